import path from "node:path";
import { readFixture } from "../../test/support/fixtures";
import { runLoad, type LoadResult } from "../lib/load";
import { freePort, REPO_ROOT, startNodeServer, startService, type ChildServer } from "../lib/processes";
import type { BenchPostgres } from "../lib/postgres";
import { buildTrivyReport } from "../lib/reports";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN, createToken, upload } from "../lib/service-client";
import { median, percentile, round } from "../lib/stats";

export interface LookupSettings {
  rounds: number;
  durationSec: number;
  workDir: string;
}

const CONNECTIONS = 50;
const STEADY_RATE = 1000;

async function startBaseline(file: string, logFile: string): Promise<ChildServer> {
  return startNodeServer({ args: [path.join(REPO_ROOT, "bench/baselines", file)], env: {}, port: await freePort(), readyPath: "/readyz", logFile });
}

function checkClean(name: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers and ${r.errors} errors under load`);
}

/** lookup_throughput (saturation, alternating rounds) and lookup_p99 (steady 1,000 requests/s). */
/**
 * batch_check_10's request body: ten images of 50 findings each, stored through the service, named by reference
 * with their digests (bench/profile-lookup.ts PROFILE_BATCH=1 profiles the same request).
 */
export async function storeBatchCheckBody(serviceUrl: string): Promise<string> {
  const images: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { json, digest } = buildTrivyReport(50, `batch${i}`);
    await upload(serviceUrl, JSON.stringify(json));
    images.push(`registry.example.com/bench/app-batch${i}@${digest}`);
  }
  return JSON.stringify({ images, namespace: "bench" });
}

export async function runLookupScenarios(pg: BenchPostgres, settings: LookupSettings): Promise<ScenarioResult[]> {
  const databaseUrl = await pg.database("bench_lookup");
  const service = await startService({ DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, path.join(settings.workDir, "lookup-service.log"));
  const express = await startBaseline("express-noop.js", path.join(settings.workDir, "express-noop.log"));
  const bare = await startBaseline("node-http.js", path.join(settings.workDir, "node-http.log"));
  try {
    // The image Kyverno asks about: juice-shop, non-compliant with reasons (a realistic answer size).
    const stored = await upload(service.url, readFixture("juice-shop-v10.2.0.json"));
    const digest: string = stored.images[0].image_digest;
    const batchBody = await storeBatchCheckBody(service.url);
    const kyvernoToken = await createToken(databaseUrl, "bench-kyverno", ["compliance:read"]);
    const lookupHeaders = { Authorization: `Bearer ${kyvernoToken}` };
    const lookupUrl = `${service.url}/v1/images/${digest}/compliance`;
    const sample = await fetch(lookupUrl, { headers: lookupHeaders });
    const answer = await sample.text();
    if (sample.status !== 200) throw new Error(`lookup answered ${sample.status}: ${answer}`);

    const targets = {
      service: { url: lookupUrl, headers: lookupHeaders },
      express: { url: `${express.url}/noop`, headers: {} },
      node_http: { url: `${bare.url}/noop`, headers: {} },
    } as const;
    // Warm up every target (JIT, connection pools, caches) before measuring.
    for (const t of Object.values(targets)) await runLoad({ ...t, connections: CONNECTIONS, durationSec: 3 });

    const rps: Record<keyof typeof targets, number[]> = { service: [], express: [], node_http: [] };
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate the order so neither side always runs first (thermal, background flushes).
      const order: Array<keyof typeof targets> = round % 2 === 0 ? ["express", "service", "node_http"] : ["service", "express", "node_http"];
      for (const name of order) {
        const r = await runLoad({ ...targets[name], connections: CONNECTIONS, durationSec: settings.durationSec });
        checkClean(name, r);
        rps[name].push(round2(r.requestsPerSec));
        process.stderr.write(`  lookup_throughput round ${round + 1} ${name}: ${Math.round(r.requestsPerSec)} req/s\n`);
      }
    }
    const serviceRps = median(rps.service);
    const expressRps = median(rps.express);
    const bareRps = median(rps.node_http);
    const throughput: ScenarioResult = {
      name: "lookup_throughput",
      value: Math.round(serviceRps),
      unit: "req/s",
      baseline: "Express 5 route that does nothing (separate process, no middleware); also a bare node:http server answering fixed bytes",
      baseline_value: Math.round(expressRps),
      ratio: round(serviceRps / expressRps, 3),
      target: "ratio ≥ 0.90 of the Express no-op, and ≥ 0.50 of bare node:http (details.ratio_to_node_http)",
      pass: serviceRps / expressRps >= 0.9 && serviceRps / bareRps >= 0.5,
      details: {
        connections: CONNECTIONS,
        round_duration_s: settings.durationSec,
        rounds: settings.rounds,
        request: "GET /v1/images/{digest}/compliance, Authorization: Bearer <compliance:read token>, juice-shop (non_compliant)",
        answer_bytes: Buffer.byteLength(answer),
        service_rounds: rps.service,
        express_rounds: rps.express,
        node_http_rounds: rps.node_http,
        node_http_ceiling: Math.round(bareRps),
        ratio_to_node_http: round(serviceRps / bareRps, 3),
      },
    };

    const steady = async (url: string, headers: Record<string, string>, method: "GET" | "POST" = "GET", body?: string) => {
      const r = await runLoad({ url, headers, method, body, connections: 10, durationSec: Math.max(10, settings.durationSec * 2), overallRate: STEADY_RATE }, true);
      checkClean(url, r);
      return { rps: round(r.requestsPerSec, 1), p50: round(percentile(r.samplesMs, 50), 3), p99: round(percentile(r.samplesMs, 99), 3), max: round(percentile(r.samplesMs, 100), 3), requests: r.samplesMs.length };
    };
    const single = await steady(lookupUrl, lookupHeaders);
    const baseline = await steady(`${express.url}/noop`, {});
    const batch = await steady(`${service.url}/v1/compliance/check`, lookupHeaders, "POST", batchBody);
    const p99: ScenarioResult = {
      name: "lookup_p99",
      value: single.p99,
      unit: "ms",
      baseline: "the same Express no-op route at the same rate",
      baseline_value: baseline.p99,
      ratio: round(single.p99 / baseline.p99, 2),
      target: "p99 ≤ 0.5 × the Express no-op's p99 at 1,000 req/s",
      pass: single.p99 <= 0.5 * baseline.p99,
      details: {
        rate_per_s: STEADY_RATE,
        connections: 10,
        single_digest: single,
        express_noop: baseline,
        latency_source: "per-request times from autocannon's response events (sub-millisecond)",
      },
    };
    const batchCheck: ScenarioResult = {
      name: "batch_check_10",
      value: batch.p99,
      unit: "ms (p99)",
      baseline: "the single-digest lookup's p99 at the same rate, same run",
      baseline_value: single.p99,
      ratio: round(batch.p99 / single.p99, 2),
      target: "p50 and p99 each ≤ 2 × the single lookup's",
      pass: batch.p50 <= 2 * single.p50 && batch.p99 <= 2 * single.p99,
      details: {
        rate_per_s: STEADY_RATE,
        request: "POST /v1/compliance/check with 10 stored digests, no Content-Type",
        batch_of_10_images: batch,
        single_digest: single,
        p50_ratio: round(batch.p50 / single.p50, 2),
      },
    };
    return [throughput, p99, batchCheck];
  } finally {
    await Promise.all([service.stop(), express.stop(), bare.stop()]);
  }
}

function round2(n: number): number {
  return Math.round(n);
}
