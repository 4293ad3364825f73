import crypto from "node:crypto";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { insertFindings, insertRaw, insertReport } from "../../src/db/report-repository";
import { upsertVulnerabilities } from "../../src/db/vulnerability-repository";
import { toEvaluationInput } from "../../src/domain/evaluation-input";
import type { DecodedReport, Finding } from "../../src/domain/report";
import { sanitizeReport } from "../../src/ingest/sanitize";
import { copyLine } from "../../src/db/copy-in";
import { decodeReport } from "../../src/formats";
import type { BenchPostgres } from "../lib/postgres";
import { startService } from "../lib/processes";
import { buildTrivyReport } from "../lib/reports";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN, upload } from "../lib/service-client";
import { median, round } from "../lib/stats";

const SIZES = [100, 1000, 10_000];
const COLUMNS = ["report_id", "kind", "vulnerability_id", "pkg_name", "installed_version", "fixed_version", "status", "severity", "target", "class", "pkg_type", "purl"] as const;

function copyText(reportId: string, findings: readonly Finding[]): string {
  let out = "";
  for (const f of findings) {
    out += copyLine([reportId, f.kind, f.vulnerabilityId, f.pkgName, f.installedVersion, f.fixedVersion, f.status, f.severity, f.target, f.class, f.pkgType, f.purl]);
  }
  return out;
}

/**
 * The raw floor: COPY FROM STDIN of the same finding rows into a table shaped like findings (same columns, indexes):
 * bench_copy_findings, created `LIKE findings INCLUDING ALL`. Returns the seconds it took.
 */
export async function copyRows(client: Client, findings: readonly Finding[]): Promise<number> {
  const text = copyText(crypto.randomUUID(), findings);
  const started = process.hrtime.bigint();
  await pipeline(Readable.from([text]), client.query(copyFrom(`COPY bench_copy_findings (${COLUMNS.join(", ")}) FROM STDIN`)));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The database statements of one ingest alone, run from this process on the service's database with the service's
 * own repository functions (report row, vulnerability upsert, findings COPY, raw copy, commit): what ingest would
 * take with no HTTP, parsing or decoding at all. COPY's time divided by this is the best ratio ingest could reach.
 */
async function databaseStatementsOnly(client: Client, body: Buffer, report: DecodedReport): Promise<number> {
  const gzipped = gzipSync(body, { level: 1 });
  const evaluationInput = toEvaluationInput(report.findings);
  const started = process.hrtime.bigint();
  await client.query("BEGIN");
  try {
    const reportId = await insertReport(client, { report, scannedAt: new Date(), sha256: crypto.randomUUID(), source: "bench-floor", uploadedBy: null, evaluationInput });
    await upsertVulnerabilities(client, report.vulnerabilities);
    await insertFindings(client, reportId!, report.findings);
    await insertRaw(client, reportId!, body.length, gzipped, false);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

type SizeEntry = { ingest_findings_per_s: number[]; copy_rows_per_s: number[]; ingest_s: number[]; copy_s: number[]; report_bytes: number; vulnerability_ids: number };

/**
 * ingest_10k: uploads of 100, 1,000 and 10,000 findings through POST /v1/reports (client wall time: HTTP, parse,
 * decode, hash, raw copy, vulnerability upsert, findings, verdict, commit, answer), alternating with a raw COPY
 * of the same rows. Two cases per size: known IDs (the steady state — every vulnerability ID and its metadata is
 * already stored by an earlier upload, as after a CI's first day; each round is a new image with new bytes) and
 * cold IDs (every round's IDs are new to the database). The scenario's value is the known-ID case at 10,000.
 */
export async function runIngestScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string }): Promise<ScenarioResult> {
  const databaseUrl = await pg.database("bench_ingest");
  const service = await startService({ DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, path.join(settings.workDir, "ingest-service.log"));
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("CREATE TABLE bench_copy_findings (LIKE findings INCLUDING ALL)");
    // Warm-up: one small upload and one small COPY (JIT, connections, plans).
    await upload(service.url, JSON.stringify(buildTrivyReport(100, "warmup").json));
    await copyRows(client, decodeReport(buildTrivyReport(100, "warmup-copy").json).findings);

    const cases = { known: {} as Record<string, SizeEntry>, cold: {} as Record<string, SizeEntry> };
    for (const size of SIZES) {
      // The known IDs' first upload, not measured: it stores every ID and its metadata.
      await upload(service.url, JSON.stringify(buildTrivyReport(size, `known${size}-seed`, `known${size}`).json));
      for (const kind of ["known", "cold"] as const) {
        const entry: SizeEntry = { ingest_findings_per_s: [], copy_rows_per_s: [], ingest_s: [], copy_s: [], report_bytes: 0, vulnerability_ids: 0 };
        for (let round = 0; round < settings.rounds; round++) {
          const label = `${kind}${size}r${round}`;
          const { json, vulnerabilityIds } = buildTrivyReport(size, label, kind === "known" ? `known${size}` : label);
          const body = Buffer.from(JSON.stringify(json));
          entry.report_bytes = body.length;
          entry.vulnerability_ids = vulnerabilityIds;
          const copyFindings = decodeReport(buildTrivyReport(size, `c${label}`).json).findings;
          const runIngest = async () => {
            const started = process.hrtime.bigint();
            const answer = await upload(service.url, body);
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            const counted = Object.values(answer.summary as Record<string, number>).reduce((a, b) => a + b, 0);
            if (counted < size) throw new Error(`the service counted ${counted} findings for a report of ${size}`);
            entry.ingest_s.push(round3(seconds));
            entry.ingest_findings_per_s.push(Math.round(size / seconds));
          };
          const runCopy = async () => {
            const seconds = await copyRows(client, copyFindings);
            entry.copy_s.push(round3(seconds));
            entry.copy_rows_per_s.push(Math.round(size / seconds));
          };
          if (round % 2 === 0) {
            await runIngest();
            await runCopy();
          } else {
            await runCopy();
            await runIngest();
          }
        }
        cases[kind][String(size)] = entry;
        process.stderr.write(`  ingest ${size} (${kind} IDs): ${median(entry.ingest_findings_per_s)} findings/s vs COPY ${median(entry.copy_rows_per_s)} rows/s\n`);
      }
    }
    // The floor under the 10,000-finding figures: the same statements without HTTP, parsing or decoding, alternating
    // with COPY as above, for known IDs (those of the known-ID uploads) and for new ones.
    const floor = { known_ids_s: [] as number[], cold_ids_s: [] as number[], copy_s: [] as number[] };
    for (let round = 0; round < settings.rounds; round++) {
      for (const kind of ["known", "cold"] as const) {
        const label = `floor-${kind}${round}`;
        const { json } = buildTrivyReport(10_000, label, kind === "known" ? "known10000" : label);
        const body = Buffer.from(JSON.stringify(json));
        const report = sanitizeReport(decodeReport(json));
        floor[kind === "known" ? "known_ids_s" : "cold_ids_s"].push(round3(await databaseStatementsOnly(client, body, report)));
      }
      floor.copy_s.push(round3(await copyRows(client, decodeReport(buildTrivyReport(10_000, `floorc${round}`).json).findings)));
    }
    const ceiling = median(floor.copy_s) / median(floor.known_ids_s);
    process.stderr.write(
      `  database statements alone for 10000: known IDs ${median(floor.known_ids_s)} s, cold ${median(floor.cold_ids_s)} s vs COPY ${median(floor.copy_s)} s (best reachable ratio ${round(ceiling, 3)})\n`,
    );
    const summarise = (bySize: Record<string, SizeEntry>) =>
      Object.fromEntries(
        Object.entries(bySize).map(([size, e]) => [
          size,
          { ...e, ingest_median_findings_per_s: median(e.ingest_findings_per_s), copy_median_rows_per_s: median(e.copy_rows_per_s), ratio: round(median(e.ingest_findings_per_s) / median(e.copy_rows_per_s), 3) },
        ]),
      );
    const tenK = cases.known["10000"]!;
    const coldTenK = cases.cold["10000"]!;
    const value = median(tenK.ingest_findings_per_s);
    const baselineValue = median(tenK.copy_rows_per_s);
    return {
      name: "ingest_10k",
      value: Math.round(value),
      unit: "findings/s",
      baseline: "raw COPY FROM STDIN of the same rows into a table shaped like findings",
      baseline_value: Math.round(baselineValue),
      ratio: round(value / baselineValue, 3),
      target: "ratio ≥ 0.25 for 10,000 findings whose IDs are stored (cold IDs reported beside it)",
      pass: value / baselineValue >= 0.25,
      details: {
        rounds: settings.rounds,
        cold_ids_10k: {
          ingest_median_findings_per_s: median(coldTenK.ingest_findings_per_s),
          copy_median_rows_per_s: median(coldTenK.copy_rows_per_s),
          ratio: round(median(coldTenK.ingest_findings_per_s) / median(coldTenK.copy_rows_per_s), 3),
        },
        known_ids_by_size: summarise(cases.known),
        cold_ids_by_size: summarise(cases.cold),
        ingest_measures: "client wall time of POST /v1/reports (plain JSON body) until the 201 answer",
        database_floor_10k: {
          ...floor,
          ratio_ceiling_known_ids: round(ceiling, 3),
          ratio_ceiling_cold_ids: round(median(floor.copy_s) / median(floor.cold_ids_s), 3),
          measures:
            "the ingest's database statements alone (report row, vulnerability upsert, findings COPY, raw copy, commit) for a 10,000-finding report, run by the bench process with the service's repository functions; COPY ÷ this is the best ratio ingest could reach with no HTTP, parsing or decoding",
        },
        reports:
          "juice-shop's findings replicated with new package names per copy; known IDs: every round is a new image (digest, bytes) naming the IDs and metadata an unmeasured first upload stored; cold IDs: every round's IDs are new",
      },
    };
  } finally {
    await client.end();
    await service.stop();
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
