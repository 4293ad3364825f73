/**
 * `npm run bench`: every scenario beside its baseline, in one run, on this machine, with no network. The service
 * runs as users run it (`node dist/main.js serve`, built first) on a dedicated embedded PostgreSQL. Writes
 * bench/results.json and bench/RESULTS.md.
 *
 * Environment: BENCH_ROUNDS (default 3), BENCH_DURATION (seconds per load round, default 10),
 * BENCH_ONLY (comma-separated scenario groups: lookup,ingest,reevaluate,inventory,scale,rss,cold_start), BENCH_SKIP_BUILD=1,
 * BENCH_OUT (directory for the results; default bench/). scale_20m's size: SCALE_HISTORY_FINDINGS (default 20000000)
 * and SCALE_CURRENT_FINDINGS (default 200000); the full size needs ~6 GB of disk and minutes of seeding.
 * reevaluate's size: BENCH_REEVALUATE_IMAGES (100000), BENCH_RUNNING_CONTAINERS (50000); inventory_20k's:
 * BENCH_INVENTORY_PODS (20000). ingest_50mb_rss's shapes: BENCH_RSS_SHAPES (juice_shop_50mb,tiny_1m_findings,tiny_200k_findings).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeMachine } from "./lib/machine";
import { startBenchPostgres } from "./lib/postgres";
import { REPO_ROOT } from "./lib/processes";
import { writeResults, type BenchResults, type ScenarioResult } from "./lib/result";
import { runColdStart } from "./scenarios/cold-start";
import { runIngestScenario } from "./scenarios/ingest";
import { runIngestRssScenario } from "./scenarios/ingest-rss";
import { runLookupScenarios } from "./scenarios/lookup";
import { runInventoryScenario } from "./scenarios/inventory";
import { runReevaluateScenario } from "./scenarios/reevaluate";
import { runScaleScenario } from "./scenarios/scale-20m";

const ORDER = ["lookup_throughput", "lookup_p99", "batch_check_10", "ingest_10k", "reevaluate_100k", "reevaluate_100k_running", "inventory_20k", "scale_20m", "ingest_50mb_rss", "cold_start"];

function build(): string {
  if (process.env.BENCH_SKIP_BUILD === "1") return "skipped (BENCH_SKIP_BUILD=1): measured the existing dist/";
  process.stderr.write("building (npm run build)…\n");
  const r = spawnSync("npm", ["run", "build"], { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status === 0) return "clean";
  // While the tree is being edited by others, tsc still emits; BENCH_ALLOW_BUILD_ERRORS=1 measures what it emitted.
  if (process.env.BENCH_ALLOW_BUILD_ERRORS === "1" && fs.existsSync(path.join(REPO_ROOT, "dist/main.js"))) {
    process.stderr.write("warning: npm run build reported errors; measuring the emitted dist/ anyway\n");
    return "tsc reported errors (files being edited); measured the dist/ it emitted";
  }
  throw new Error("npm run build failed; the benchmark measures the built service (dist/)");
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const durationSec = Number(process.env.BENCH_DURATION ?? 10);
  if (rounds < 3) throw new Error("BENCH_ROUNDS must be at least 3: the figures are medians over rounds");
  const only = new Set((process.env.BENCH_ONLY ?? "lookup,ingest,reevaluate,inventory,scale,rss,cold_start").split(",").map((s) => s.trim()));
  const buildStatus = build();
  const loadBefore = os.loadavg();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-bench-"));
  process.stderr.write(`work directory (logs): ${workDir}\n`);
  const pg = await startBenchPostgres();
  const scenarios: ScenarioResult[] = [];
  const record = (results: ScenarioResult[]) => {
    for (const r of results) {
      scenarios.push(r);
      process.stderr.write(`${r.name}: ${r.value} ${r.unit} (baseline ${r.baseline_value}, ratio ${r.ratio}) ${r.pass ? "PASS" : "FAIL"}\n`);
    }
  };
  try {
    if (only.has("lookup")) record(await runLookupScenarios(pg, { rounds, durationSec, workDir }));
    if (only.has("ingest")) record([await runIngestScenario(pg, { rounds, workDir })]);
    if (only.has("reevaluate")) record(await runReevaluateScenario(pg, { rounds, workDir }));
    if (only.has("inventory")) record([await runInventoryScenario(pg, { rounds, workDir })]);
    if (only.has("scale")) record([await runScaleScenario(pg, { rounds, workDir })]);
    if (only.has("rss")) record([await runIngestRssScenario(pg, { rounds, workDir })]);
  } finally {
    await pg.stop();
  }
  if (only.has("cold_start")) record([await runColdStart({ rounds, workDir })]);

  const results: BenchResults = {
    generated_at: new Date().toISOString(),
    machine: describeMachine(pg.version),
    conditions: {
      build: buildStatus,
      load_average_1m_before: Math.round(loadBefore[0]! * 100) / 100,
      load_average_1m_after: Math.round(os.loadavg()[0]! * 100) / 100,
      rounds,
      round_duration_s: durationSec,
    },
    scenarios: scenarios.sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name)),
  };
  const outDir = process.env.BENCH_OUT ?? __dirname;
  writeResults(outDir, results);
  process.stderr.write(`wrote ${path.join(outDir, "results.json")} and RESULTS.md\n`);
  fs.rmSync(workDir, { recursive: true, force: true });
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
