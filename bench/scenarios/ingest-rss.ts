import path from "node:path";
import type { BenchPostgres } from "../lib/postgres";
import { readRss, startService } from "../lib/processes";
import { buildReportOfSize, digestOf } from "../lib/reports";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN, upload } from "../lib/service-client";
import { median, percentile, round } from "../lib/stats";

const REPORT_BYTES = 50_000_000;
/** The shipped limits (deploy/kubernetes/deployment.yaml): a 512 MiB pod running node with this heap limit. */
const SHIPPED_NODE_OPTIONS = "--max-old-space-size=384";

interface Shape {
  name: string;
  /** The answer the shipped defaults must give: 201 stored, or 413 too_many_findings (over MAX_REPORT_FINDINGS). */
  expect: 201 | 413;
  build(round: number): { body: Buffer; findings: number; digest: string };
}

/**
 * A Trivy JSON report of `count` findings as small as a finding can be (an ID and a package): issue 17's 44 MB report
 * of 1,000,000 findings, the most findings MAX_REPORT_BYTES admits, so the most objects per byte to parse.
 */
function tinyFindingsReport(count: number, label: string): { body: Buffer; findings: number; digest: string } {
  const digest = digestOf(`bench-tiny-${label}`);
  const head = JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: `registry.example.com/bench/tiny-${label}:1.0`,
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/bench/tiny-${label}@${digest}`] },
  }).slice(0, -1);
  const parts: string[] = [`${head},"Results":[{"Target":"t","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[`];
  for (let i = 0; i < count; i++) parts.push(`${i ? "," : ""}{"VulnerabilityID":"CVE-${i}","PkgName":"p"}`);
  parts.push("]}]}");
  return { body: Buffer.from(parts.join("")), findings: count, digest };
}

const SHAPES: Shape[] = [
  { name: "juice_shop_50mb", expect: 201, build: (r) => buildReportOfSize(REPORT_BYTES, `rss${r}`) },
  // Issue 17's 44 MB report of 1,000,000 tiny findings (690 MB RSS, an OOM kill, before the cap): over the default
  // MAX_REPORT_FINDINGS (200,000), so it must be 413 — the memory and time of reading and counting it is what counts.
  { name: "tiny_1m_findings", expect: 413, build: (r) => tinyFindingsReport(1_000_000, `1m-${r}`) },
  // The largest tiny report the default cap admits: parsed, decoded and stored.
  { name: "tiny_200k_findings", expect: 201, build: (r) => tinyFindingsReport(200_000, `200k-${r}`) },
];

/** BENCH_RSS_SHAPES (comma-separated shape names) runs only those, for a quick check of one shape. */
function selectedShapes(): Shape[] {
  const wanted = process.env.BENCH_RSS_SHAPES?.split(",").map((s) => s.trim()).filter(Boolean);
  if (!wanted?.length) return SHAPES;
  const unknown = wanted.filter((w) => !SHAPES.some((s) => s.name === w));
  if (unknown.length) throw new Error(`BENCH_RSS_SHAPES names unknown shapes ${unknown.join(", ")}; known: ${SHAPES.map((s) => s.name).join(", ")}`);
  return SHAPES.filter((s) => wanted.includes(s.name));
}

/** Lookups of one stored digest, one after another, until `done` settles; their latencies in ms. */
async function lookupsDuring(url: string, digest: string, done: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    const started = process.hrtime.bigint();
    const res = await fetch(`${url}/v1/images/${digest}/compliance`, { headers: { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`a lookup during the upload answered ${res.status}`);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return latencies;
}

/**
 * ingest_50mb_rss: for each report shape, a fresh service process per round, under the shipped heap limit, uploads
 * one large report while lookups of an already stored image run one after another; the value is the largest peak
 * RSS (VmHWM from /proc) of any shape, the baseline the process's RSS when idle and ready. Each shape also reports
 * the upload's status and time and the lookups' p99 during it.
 */
export async function runIngestRssScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string }): Promise<ScenarioResult> {
  const idles: number[] = [];
  const shapes: Array<Record<string, unknown>> = [];
  const peakOfShape: number[] = [];
  for (const shape of selectedShapes()) {
    const peaks: number[] = [];
    const seconds: number[] = [];
    const p99s: number[] = [];
    let findings = 0;
    let bytes = 0;
    let status = 0;
    let lookups = 0;
    for (let r = 0; r < settings.rounds; r++) {
      const report = shape.build(r);
      findings = report.findings;
      bytes = report.body.length;
      const databaseUrl = await pg.database(`bench_rss_${shape.name}_${r}`);
      const service = await startService(
        { DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN, NODE_OPTIONS: SHIPPED_NODE_OPTIONS },
        path.join(settings.workDir, `rss-service-${shape.name}-${r}.log`),
      );
      try {
        const probe = tinyFindingsReport(3, `probe-${shape.name}-${r}`);
        await upload(service.url, probe.body);
        await new Promise((r) => setTimeout(r, 1000));
        idles.push(round1(readRss(service.pid).currentMb));
        const started = process.hrtime.bigint();
        const answer = fetch(`${service.url}/v1/reports`, {
          method: "POST",
          body: report.body,
          headers: { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "Content-Type": "application/json" },
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as { images?: Array<{ image_digest: string }>; code?: string } }));
        const latencies = await lookupsDuring(service.url, probe.digest, answer);
        const result = await answer;
        seconds.push(round1(Number(process.hrtime.bigint() - started) / 1e9));
        status = result.status;
        if (status === 201 && result.body.images?.[0]?.image_digest !== report.digest) throw new Error(`the ${shape.name} report was not stored for its digest`);
        if (status !== shape.expect || (status === 413 && result.body.code !== "too_many_findings"))
          throw new Error(`the ${shape.name} upload answered ${status} ${result.body.code ?? ""}; expected ${shape.expect}`);
        peaks.push(round1(readRss(service.pid).peakMb));
        p99s.push(round(percentile(latencies, 99), 1));
        lookups = latencies.length;
        process.stderr.write(
          `  ingest_50mb_rss ${shape.name} round ${r + 1}: ${status}, peak ${peaks[peaks.length - 1]} MB, ${seconds[seconds.length - 1]} s, ` +
            `lookup p99 ${p99s[p99s.length - 1]} ms over ${lookups} lookups\n`,
        );
      } finally {
        await service.stop();
      }
    }
    peakOfShape.push(median(peaks));
    shapes.push({
      shape: shape.name,
      report_bytes: bytes,
      findings,
      status,
      expected_status: shape.expect,
      peak_rss_rounds_mb: peaks,
      upload_seconds: seconds,
      lookup_p99_ms_rounds: p99s,
      lookups_last_round: lookups,
    });
  }
  const value = Math.max(...peakOfShape);
  const baselineValue = median(idles);
  return {
    name: "ingest_50mb_rss",
    value: round(value, 1),
    unit: "MB",
    baseline: "the same service process, idle and ready, before the upload",
    baseline_value: round(baselineValue, 1),
    ratio: round(value / baselineValue, 2),
    target: "peak RSS ≤ 512 MB for every shape, each answering as expected (the 1M-tiny-findings report 413)",
    pass: value <= 512,
    details: {
      shapes,
      idle_rss_rounds_mb: idles,
      measure: `VmHWM of the service process (node ${SHIPPED_NODE_OPTIONS} dist/main.js serve), plain JSON body; lookups of a stored digest run one at a time during the upload`,
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
