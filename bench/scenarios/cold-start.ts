import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, readRss, startNodeServer } from "../lib/processes";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN } from "../lib/service-client";
import { median, round } from "../lib/stats";

/**
 * cold_start: `node dist/main.js serve` with DATABASE_URL unset on an existing embedded data directory (installed,
 * initialised and migrated by a first start), from spawn to the first 200 of /readyz. Baseline: the embedded
 * PostgreSQL alone starting on the same directory, from spawn of a Node.js process until it accepts connections.
 */
export async function runColdStart(settings: { rounds: number; workDir: string }): Promise<ScenarioResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-bench-data-"));
  const env = { DATA_DIR: dataDir, ADMIN_TOKEN: BENCH_ADMIN_TOKEN };
  const startOnce = async (label: string) => {
    const started = process.hrtime.bigint();
    const server = await startNodeServer({ args: ["dist/main.js", "serve"], env, port: await freePort(), readyPath: "/readyz", logFile: path.join(settings.workDir, `cold-start-${label}.log`), timeoutMs: 120_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rss = readRss(server.pid).currentMb;
    await server.stop();
    return { seconds, rss };
  };
  const pgOnly = async () => {
    const script = `const { startEmbeddedPostgres } = require("./dist/db/embedded-postgres");
      startEmbeddedPostgres(${JSON.stringify(dataDir)}).then(async (pg) => { process.stdout.write("ready\\n"); await pg.stop(); });`;
    const started = process.hrtime.bigint();
    const { spawn } = await import("node:child_process");
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ["-e", script], { cwd: path.resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "inherit"] });
      let settled = false;
      child.stdout.on("data", (d: Buffer) => {
        if (!settled && d.toString().includes("ready")) {
          settled = true;
          resolve();
        }
      });
      child.on("exit", (code) => (settled ? undefined : reject(new Error(`embedded PostgreSQL start exited with ${code}`))));
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Let the child stop PostgreSQL before the next start.
    await new Promise((r) => setTimeout(r, 1500));
    return seconds;
  };
  try {
    const first = await startOnce("first");
    const service: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      const s = await startOnce(`round${round}`);
      service.push(round3(s.seconds));
      baseline.push(round3(await pgOnly()));
      process.stderr.write(`  cold_start round ${round + 1}: service ${service[round]} s, PostgreSQL alone ${baseline[round]} s\n`);
    }
    const value = median(service);
    const baselineValue = median(baseline);
    return {
      name: "cold_start",
      value: round(value, 2),
      unit: "s",
      baseline: "the embedded PostgreSQL alone starting on the same data directory",
      baseline_value: round(baselineValue, 2),
      ratio: round(value / baselineValue, 2),
      target: "ready in ≤ 10 s",
      pass: value <= 10,
      details: { first_start_s: round3(first.seconds), service_rounds_s: service, postgres_only_rounds_s: baseline, measure: "spawn of node dist/main.js serve (DATABASE_URL unset) until GET /readyz answers 200" },
    };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
