/**
 * `npx tsx bench/profile-lookup.ts`: a CPU profile of the lookup fast path under load. Starts the built service
 * (`node --cpu-prof dist/main.js serve`) on a dedicated embedded PostgreSQL, stores the juice-shop report, runs
 * autocannon (50 connections, PROFILE_DURATION seconds, default 10) against GET /v1/images/{digest}/compliance with a
 * compliance:read token, stops the service and prints where the service's CPU time went: by function (self time) and
 * by area (authentication, decision log, metrics, headers, HTTP, ...). PROFILE_BATCH=1 profiles the batch_check_10
 * request instead (POST /v1/compliance/check with 10 stored digests, as the bench sends it). PROFILE_OUT=dir keeps the
 * .cpuprofile (open it in Chrome DevTools). Build first (`npm run build`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runLoad, type LoadOptions } from "./lib/load";
import { startBenchPostgres } from "./lib/postgres";
import { freePort, REPO_ROOT, startNodeServer } from "./lib/processes";
import { readFixture } from "../test/support/fixtures";
import { storeBatchCheckBody } from "./scenarios/lookup";
import { BENCH_ADMIN_TOKEN, createToken, upload } from "./lib/service-client";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part of the request a frame belongs to, from its file. */
const AREAS: Array<[string, RegExp]> = [
  ["authentication (token-service, authenticate)", /auth\/token-service|http\/authenticate|kubernetes-token-review/],
  ["decision log", /lookup\/decision-log|decision-repository/],
  ["metrics and access log (observer)", /observability\/|prom-client|pino|http\/app\.js|request-logging/],
  ["request id", /http\/request-id/],
  ["lookup (cache, answer)", /lookup\/|http\/lookup-answer|http\/lookup-fast-path/],
  ["headers and response (node:http)", /node:_http_outgoing|node:_http_server|node:_http_common|node:internal\/http/],
  ["sockets and streams (node:net, stream)", /node:net|node:stream|node:internal\/streams|node:internal\/stream_base_commons/],
  ["HTTP parsing and the event loop (native)", /^$/],
  ["express (missed the fast path)", /node_modules\/(express|router|body-parser|helmet)/],
  ["pg (database)", /node_modules\/pg/],
];

function summarise(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") continue;
    const file = url.replace(/^file:\/\//, "").replace(REPO_ROOT + "/", "");
    const key = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
    const area = ["(garbage collector)", "(program)"].includes(functionName) ? functionName : (AREAS.find(([, re]) => re.test(file))?.[0] ?? "other");
    byArea.set(area, (byArea.get(area) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)} %`;
  const lines = [`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`, "", "by area (self time, share of busy):"];
  for (const [a, t] of [...byArea].sort((x, y) => y[1] - x[1])) lines.push(`  ${pct(t)}  ${a}`);
  lines.push("", `top ${top} functions (self time):`);
  for (const [f, t] of [...byFunction].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(t)}  ${f}`);
  return lines.join("\n");
}

async function main(): Promise<void> {
  const duration = Number(process.env.PROFILE_DURATION ?? 10);
  const outDir = process.env.PROFILE_OUT ?? fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-profile-"));
  fs.mkdirSync(outDir, { recursive: true });
  const pg = await startBenchPostgres();
  try {
    const databaseUrl = await pg.database("bench_profile");
    const service = await startNodeServer({
      args: ["dist/main.js", "serve"],
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${outDir}`],
      env: { HOST: "127.0.0.1", DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
      port: await freePort(),
      readyPath: "/readyz",
      logFile: path.join(outDir, "service.log"),
    });
    try {
      const stored = await upload(service.url, readFixture("juice-shop-v10.2.0.json"));
      const token = await createToken(databaseUrl, "profile-kyverno", ["compliance:read"]);
      const headers = { Authorization: `Bearer ${token}` };
      let target: Omit<LoadOptions, "durationSec"> = { url: `${service.url}/v1/images/${stored.images[0].image_digest as string}/compliance`, headers, connections: 50 };
      if (process.env.PROFILE_BATCH === "1") {
        target = { url: `${service.url}/v1/compliance/check`, headers, method: "POST", body: await storeBatchCheckBody(service.url), connections: 50 };
      }
      await runLoad({ ...target, durationSec: 3 });
      const r = await runLoad({ ...target, durationSec: duration });
      process.stdout.write(`${Math.round(r.requestsPerSec)} req/s over ${duration} s (${r.non2xx} non-2xx, ${r.errors} errors)\n`);
    } finally {
      await service.stop();
    }
    const file = fs.readdirSync(outDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no .cpuprofile in ${outDir}`);
    process.stdout.write(`${summarise(JSON.parse(fs.readFileSync(path.join(outDir, file), "utf8")) as CpuProfile)}\nprofile: ${path.join(outDir, file)}\n`);
  } finally {
    await pg.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
