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

/** The raw floor: COPY FROM STDIN of the same finding rows into a table shaped like findings (same columns, indexes). */
async function copyRows(client: Client, findings: readonly Finding[]): Promise<number> {
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
    await insertRaw(client, reportId!, body.length, gzipped);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * ingest_10k: uploads of 100, 1,000 and 10,000 findings through POST /v1/reports (client wall time: HTTP, parse,
 * decode, hash, raw copy, vulnerability upsert, findings, verdict, commit, answer), alternating with a raw COPY
 * of the same rows. Every round uploads a new report with its own vulnerability IDs, so every ID is new.
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

    const bySize: Record<string, { ingest_findings_per_s: number[]; copy_rows_per_s: number[]; ingest_s: number[]; copy_s: number[]; report_bytes: number; vulnerability_ids: number }> = {};
    for (const size of SIZES) {
      const entry = { ingest_findings_per_s: [] as number[], copy_rows_per_s: [] as number[], ingest_s: [] as number[], copy_s: [] as number[], report_bytes: 0, vulnerability_ids: 0 };
      for (let round = 0; round < settings.rounds; round++) {
        const { json, vulnerabilityIds } = buildTrivyReport(size, `s${size}r${round}`);
        const body = Buffer.from(JSON.stringify(json));
        entry.report_bytes = body.length;
        entry.vulnerability_ids = vulnerabilityIds;
        const copyFindings = decodeReport(buildTrivyReport(size, `c${size}r${round}`).json).findings;
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
      bySize[String(size)] = entry;
      process.stderr.write(`  ingest ${size}: ${median(entry.ingest_findings_per_s)} findings/s vs COPY ${median(entry.copy_rows_per_s)} rows/s\n`);
    }
    // The floor under the 10,000-finding figure: the same statements without HTTP, parsing or decoding, alternating
    // with COPY as above. Its own reports (new IDs), so nothing is a duplicate of an upload.
    const floor = { database_statements_s: [] as number[], copy_s: [] as number[] };
    for (let round = 0; round < settings.rounds; round++) {
      const { json } = buildTrivyReport(10_000, `floor${round}`);
      const body = Buffer.from(JSON.stringify(json));
      const report = sanitizeReport(decodeReport(json));
      const copyFindings = decodeReport(buildTrivyReport(10_000, `floorc${round}`).json).findings;
      floor.database_statements_s.push(round3(await databaseStatementsOnly(client, body, report)));
      floor.copy_s.push(round3(await copyRows(client, copyFindings)));
    }
    const ceiling = median(floor.copy_s) / median(floor.database_statements_s);
    process.stderr.write(`  database statements alone for 10000: ${median(floor.database_statements_s)} s vs COPY ${median(floor.copy_s)} s (best reachable ratio ${round(ceiling, 3)})\n`);
    const tenK = bySize["10000"]!;
    const value = median(tenK.ingest_findings_per_s);
    const baselineValue = median(tenK.copy_rows_per_s);
    return {
      name: "ingest_10k",
      value: Math.round(value),
      unit: "findings/s",
      baseline: "raw COPY FROM STDIN of the same rows into a table shaped like findings",
      baseline_value: Math.round(baselineValue),
      ratio: round(value / baselineValue, 3),
      target: "ratio ≥ 0.25 for 10,000 findings",
      pass: value / baselineValue >= 0.25,
      details: {
        rounds: settings.rounds,
        by_size: Object.fromEntries(
          Object.entries(bySize).map(([size, e]) => [
            size,
            { ...e, ingest_median_findings_per_s: median(e.ingest_findings_per_s), copy_median_rows_per_s: median(e.copy_rows_per_s), ratio: round(median(e.ingest_findings_per_s) / median(e.copy_rows_per_s), 3) },
          ]),
        ),
        ingest_measures: "client wall time of POST /v1/reports (plain JSON body) until the 201 answer",
        database_floor_10k: {
          ...floor,
          ratio_ceiling: round(ceiling, 3),
          measures:
            "the ingest's database statements alone (report row, vulnerability upsert, findings COPY, raw copy, commit) for a 10,000-finding report, run by the bench process with the service's repository functions; COPY ÷ this is the best ratio ingest could reach with no HTTP, parsing or decoding",
        },
        reports: "juice-shop's findings replicated with new vulnerability IDs and package names per copy; every round's IDs are new",
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
