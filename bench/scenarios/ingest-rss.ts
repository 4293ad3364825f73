import path from "node:path";
import type { BenchPostgres } from "../lib/postgres";
import { readRss, startService } from "../lib/processes";
import { buildReportOfSize } from "../lib/reports";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN, upload } from "../lib/service-client";
import { median, round } from "../lib/stats";

const REPORT_BYTES = 50_000_000;

/**
 * ingest_50mb_rss: a fresh service process per round uploads one 50 MB report (juice-shop's findings replicated);
 * the value is the process's peak RSS (VmHWM from /proc), the baseline its RSS when idle and ready.
 */
export async function runIngestRssScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string }): Promise<ScenarioResult> {
  const peaks: number[] = [];
  const idles: number[] = [];
  const seconds: number[] = [];
  let findings = 0;
  let bytes = 0;
  for (let round = 0; round < settings.rounds; round++) {
    const report = buildReportOfSize(REPORT_BYTES, `rss${round}`);
    findings = report.findings;
    bytes = report.body.length;
    const databaseUrl = await pg.database(`bench_rss_${round}`);
    const service = await startService({ DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, path.join(settings.workDir, `rss-service-${round}.log`));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      idles.push(round1(readRss(service.pid).currentMb));
      const started = process.hrtime.bigint();
      const answer = await upload(service.url, report.body);
      seconds.push(round1(Number(process.hrtime.bigint() - started) / 1e9));
      if (answer.images?.[0]?.image_digest !== report.digest) throw new Error("the 50 MB report was not stored for its digest");
      peaks.push(round1(readRss(service.pid).peakMb));
      process.stderr.write(`  ingest_50mb_rss round ${round + 1}: peak ${peaks[peaks.length - 1]} MB (idle ${idles[idles.length - 1]} MB), ${seconds[seconds.length - 1]} s\n`);
    } finally {
      await service.stop();
    }
  }
  const value = median(peaks);
  const baselineValue = median(idles);
  return {
    name: "ingest_50mb_rss",
    value: round(value, 1),
    unit: "MB",
    baseline: "the same service process, idle and ready, before the upload",
    baseline_value: round(baselineValue, 1),
    ratio: round(value / baselineValue, 2),
    target: "peak RSS ≤ 512 MB",
    pass: value <= 512,
    details: { report_bytes: bytes, findings, peak_rss_rounds_mb: peaks, idle_rss_rounds_mb: idles, upload_seconds: seconds, measure: "VmHWM of the service process (node dist/main.js serve), plain JSON body" },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
