import fs from "node:fs";
import path from "node:path";
import { Client, Pool } from "pg";
import { findRolledUpThrough, lastClosedDay } from "../../src/db/rollup-repository";
import { rollUpHistory } from "../../src/reading/history-rollups";
import type { BenchPostgres } from "../lib/postgres";
import { startService, type ChildServer } from "../lib/processes";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN } from "../lib/service-client";
import { median, round } from "../lib/stats";

/**
 * scale_20m: cost grows with current data, not with history. Two databases with the same current data
 * (SCALE_CURRENT_FINDINGS, default 200,000 findings: images with 100 findings each, one current report per image),
 * one of them also holding SCALE_HISTORY_FINDINGS (default 20,000,000) findings of superseded reports (100 per report,
 * received 1–365 days ago, never pruned: retention is off, as in a service that keeps a year). On each, the same
 * measurements: ingest of a 1,000-finding report for a known image (known vulnerability IDs), cache-miss lookups
 * (VERDICT_CACHE_SIZE=0), a policy change (re-evaluation of every image), and every named query of docs/sql.md
 * (parameters replaced by values of the seeded data). Ingest, lookup and re-evaluation figures are medians over rounds;
 * each docs query runs 3 times on each database to warm up, then SCALE_QUERY_SAMPLES (default 31) times on each,
 * alternating between the two, and its figure is the median of those runs. The scenario passes when every
 * with-history figure is ≤ 1.2 × its no-history figure.
 *
 * The full size takes disk (~6 GB) and time (seeding alone is minutes on 2 cores): try it small first, e.g.
 * `BENCH_ONLY=scale SCALE_HISTORY_FINDINGS=200000 BENCH_ROUNDS=3 npm run bench`.
 */
const FINDINGS_PER_REPORT = 100;
const VULNERABILITY_IDS = 5000;
const TEMPLATES = 64;

export interface ScaleSize {
  currentFindings: number;
  historyFindings: number;
}

export function scaleSize(env: NodeJS.ProcessEnv = process.env): ScaleSize {
  const n = (name: string, fallback: number) => {
    const v = env[name] === undefined ? fallback : Number(env[name]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number of findings`);
    return v;
  };
  return { currentFindings: n("SCALE_CURRENT_FINDINGS", 200_000), historyFindings: n("SCALE_HISTORY_FINDINGS", 20_000_000) };
}

/** Evaluation inputs as ingest stores them: 10–30 findings, some HIGH and CRITICAL (as in reevaluate_100k). */
function evaluationInputs(): string[] {
  const inputs: string[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let t = 0; t < TEMPLATES; t++) {
    const findings = [];
    for (let i = 0, n = 10 + Math.floor(next() * 21); i < n; i++) {
      const r = next();
      const sev = r < 0.03 ? "CRITICAL" : r < 0.2 ? "HIGH" : r < 0.6 ? "MEDIUM" : r < 0.95 ? "LOW" : "UNKNOWN";
      findings.push({ k: "v", id: `CVE-2024-${Math.floor(next() * VULNERABILITY_IDS)}`, sev, fix: next() < 0.5, st: "fixed" });
    }
    inputs.push(JSON.stringify(findings));
  }
  return inputs;
}

const SEVERITY_SQL = `(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'])[1 + (i * 7 + j) % 5]`;

/**
 * Receipt times and report IDs as the service makes them: IDs are time-ordered UUIDs (src/domain/time-ordered-id.ts)
 * and rows are stored in receipt order. $anchor is the seeding's start. History report i of n was received
 * 11–365 days before it (in order of i), current report i within the last 10 days (after all history).
 */
const CUR_TS = `($anchor::timestamptz - make_interval(hours => i % 240))`;
const OLD_TS = `($anchor::timestamptz - make_interval(days => 11) - make_interval(secs => ($n::bigint - i) * 354.0 * 86400 / $n::bigint))`;
const v7 = (ts: string, key: string) =>
  `(lpad(to_hex((extract(epoch FROM ${ts}) * 1000)::bigint), 12, '0') || '7' || substr(md5(${key}), 1, 3) || '8' || substr(md5(${key}), 4, 15))::uuid`;
const CUR_ID = v7(CUR_TS, `'cur' || i`);
const OLD_ID = v7(OLD_TS, `'old' || i`);
const bind = (sql: string, values: Record<string, string | number>) => sql.replace(/\$(anchor|n)\b/g, (_, k: string) => (typeof values[k] === "number" ? String(values[k]) : `'${String(values[k])}'`));

/** Current data: `images` images, each with one current report of 100 findings, stored in receipt order. */
async function seedCurrent(client: Client, images: number, anchor: string): Promise<void> {
  const b = (sql: string) => bind(sql, { anchor });
  await client.query(`INSERT INTO vulnerabilities (id, severity) SELECT 'CVE-2024-' || v, 'HIGH' FROM generate_series(0, $1 - 1) AS v ON CONFLICT DO NOTHING`, [VULNERABILITY_IDS]);
  await client.query(
    b(`INSERT INTO scan_reports (id, received_at, scanned_at, format, scanner, scanner_version, report_sha256, source, finding_count, evaluation_input)
     SELECT ${CUR_ID}, ${CUR_TS}, ${CUR_TS}, 'trivy', 'Trivy', '0.50.0', md5('cur-sha' || i), 'ci', $2, ($3::jsonb[])[1 + i % $4]
     FROM generate_series(1, $1) AS i ORDER BY ${CUR_TS}`),
    [images, FINDINGS_PER_REPORT, evaluationInputs(), TEMPLATES],
  );
  await client.query(
    b(`INSERT INTO scan_report_images (report_id, image_digest, repository, tags, received_at)
     SELECT ${CUR_ID}, 'sha256:' || encode(sha256(('scale-image' || i)::bytea), 'hex'), 'registry.example.com/team-' || (i % 50) || '/app',
            ARRAY['1.' || i], ${CUR_TS}
     FROM generate_series(1, $1) AS i ORDER BY ${CUR_TS}`),
    [images],
  );
  await client.query(
    b(`INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, installed_version, fixed_version, status, severity)
     SELECT ${CUR_ID}, 'vulnerability', 'CVE-2024-' || ((i * 37 + j * 101) % $2), 'pkg-' || j, '1.0',
            CASE WHEN j % 2 = 0 THEN '1.1' END, 'fixed', ${SEVERITY_SQL}
     FROM generate_series(1, $1) AS i, generate_series(1, $3) AS j ORDER BY ${CUR_TS}, i, j`),
    [images, VULNERABILITY_IDS, FINDINGS_PER_REPORT],
  );
  await client.query(
    b(`INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons, policy_version, high_count)
     SELECT 'sha256:' || encode(sha256(('scale-image' || i)::bytea), 'hex'), 'registry.example.com/team-' || (i % 50) || '/app', ARRAY['1.' || i],
            ${CUR_ID}, ${CUR_TS}, i % 10 <> 0, CASE WHEN i % 10 = 0 THEN 'non_compliant' ELSE 'compliant' END,
            '[]'::jsonb, 1, 20
     FROM generate_series(1, $1) AS i`),
    [images],
  );
}

/** History: `reports` superseded reports spread over the images, received 11–365 days ago in order, 100 findings each. */
async function seedHistory(client: Client, images: number, reports: number, anchor: string, log: (s: string) => void): Promise<void> {
  const b = (sql: string) => bind(sql, { anchor, n: reports });
  const chunk = 20_000;
  for (let from = 1; from <= reports; from += chunk) {
    const to = Math.min(reports, from + chunk - 1);
    await client.query(
      b(`INSERT INTO scan_reports (id, received_at, scanned_at, format, scanner, scanner_version, report_sha256, source, finding_count, evaluation_input)
       SELECT ${OLD_ID}, ${OLD_TS}, ${OLD_TS}, 'trivy', 'Trivy', '0.4' || (i % 10) || '.0', md5('old-sha' || i), 'ci', $3, '[]'::jsonb
       FROM generate_series($1::int, $2::int) AS i`),
      [from, to, FINDINGS_PER_REPORT],
    );
    await client.query(
      b(`INSERT INTO scan_report_images (report_id, image_digest, repository, tags, received_at)
       SELECT ${OLD_ID}, 'sha256:' || encode(sha256(('scale-image' || (1 + i % $3))::bytea), 'hex'), 'registry.example.com/team-' || ((1 + i % $3) % 50) || '/app',
              ARRAY['0.' || i], ${OLD_TS}
       FROM generate_series($1::int, $2::int) AS i`),
      [from, to, images],
    );
    await client.query(
      b(`INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, installed_version, fixed_version, status, severity)
       SELECT ${OLD_ID}, 'vulnerability', 'CVE-2024-' || ((i * 37 + j * 101) % $3), 'pkg-' || j, '0.9',
              CASE WHEN j % 2 = 0 THEN '1.1' END, 'fixed', ${SEVERITY_SQL}
       FROM generate_series($1::int, $2::int) AS i, generate_series(1, $4) AS j ORDER BY i, j`),
      [from, to, VULNERABILITY_IDS, FINDINGS_PER_REPORT],
    );
    log(`  history: ${to * FINDINGS_PER_REPORT} of ${reports * FINDINGS_PER_REPORT} findings`);
  }
}

/**
 * The history rollups as a service keeps them (src/reading/history-rollups.ts): rolled up through the last closed day
 * before anything is measured, so that the docs queries reading the views count live only what a service would.
 * Returns the catch-up's duration in seconds.
 */
async function rollUpBeforeMeasuring(databaseUrl: string): Promise<number> {
  const started = Date.now();
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const now = new Date();
    await rollUpHistory(pool, { now });
    const through = await findRolledUpThrough(pool);
    if (through !== lastClosedDay(now)) throw new Error(`history rollup stopped at ${through ?? "nothing"}, not ${lastClosedDay(now)}`);
    await pool.query("ANALYZE daily_finding_counts, daily_report_counts, history_rollup_state");
  } finally {
    await pool.end();
  }
  return (Date.now() - started) / 1000;
}

/** The named queries of docs/sql.md, with parameters replaced by values of the seeded data. */
function docQueries(digest: string): Array<{ name: string; sql: string; params: unknown[] }> {
  const doc = fs.readFileSync(path.resolve(__dirname, "../../docs/sql.md"), "utf8");
  return [...doc.matchAll(/```sql\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((sql) => /^-- name: /m.test(sql))
    .map((sql) => {
      const params = JSON.parse(/^-- params: (.*)$/m.exec(sql)![1]!.replace(/'/g, '"')) as unknown[];
      return {
        name: /^-- name: (.*)$/m.exec(sql)![1]!.trim(),
        sql,
        params: params.map((p) => (typeof p !== "string" ? p : p.startsWith("sha256:") ? digest : /^CVE-/.test(p) ? "CVE-2024-42" : p)),
      };
    });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** A Trivy report of `n` findings for a seeded image, IDs among the stored ones (steady state). */
function knownIdsReport(image: number, n: number, round: number): string {
  const digest = imageDigest(image);
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: new Date(Date.now() - 1000 + round).toISOString(),
    ArtifactName: `registry.example.com/team-${image % 50}/app:1.${image}`,
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/team-${image % 50}/app@${digest}`], RepoTags: [] },
    Results: [
      {
        Target: "app",
        Class: "os-pkgs",
        Type: "debian",
        Vulnerabilities: Array.from({ length: n }, (_, j) => ({
          VulnerabilityID: `CVE-2024-${(image * 37 + j * 101 + round) % VULNERABILITY_IDS}`,
          PkgName: `pkg-${j}`,
          InstalledVersion: `1.${round}`,
          Severity: "LOW",
        })),
      },
    ],
  });
}

function imageDigest(i: number): string {
  return `sha256:${require("node:crypto").createHash("sha256").update(`scale-image${i}`).digest("hex")}`;
}

interface Measurements {
  [name: string]: number;
}

/**
 * One round of the service's measurements on one database: the same requests, in the same order, for either variant.
 * `add` collects each sample under its measurement's name.
 */
async function measureRound(service: ChildServer, images: number, r: number, add: (name: string, ms: number) => void): Promise<void> {
  const auth = { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
  // Ingest: a new 1,000-finding scan of a known image (becomes its current report).
  const body = knownIdsReport(1 + ((r * 97) % images), 1000, r + 1);
  add("ingest_1000_findings_ms", await timed(async () => {
    const res = await fetch(`${service.url}/v1/reports`, { method: "POST", body, headers: { ...auth, "Content-Type": "application/json" } });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
  }));
  // Cache-miss lookups (the service runs with VERDICT_CACHE_SIZE=0): the median of 200 sequential ones.
  const lookups: number[] = [];
  for (let k = 0; k < 200; k++) {
    const digest = imageDigest(1 + ((r * 200 + k) * 13) % images);
    lookups.push(await timed(async () => {
      const res = await fetch(`${service.url}/v1/images/${digest}/compliance`, { headers: auth });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`lookup answered ${res.status}`);
    }));
  }
  add("lookup_cache_miss_ms", median(lookups));
  add("reevaluate_ms", await timed(async () => {
    const res = await fetch(`${service.url}/v1/policy`, {
      method: "PUT",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ max_severity_counts: r % 2 ? { CRITICAL: 0, HIGH: 2 } : { CRITICAL: 0, HIGH: 5 } }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`PUT /v1/policy answered ${res.status}`);
  }));
}

/**
 * Both services run at once and the rounds alternate between them (without, with, with, without, ...), as the docs
 * queries do: measured one service after the other, a busy moment of the shared machine lands on one side only, and
 * three samples of a 60-100 ms re-evaluation are too few for a median to ignore it. SERVICE_ROUNDS rounds at least
 * (a round is a few seconds).
 */
async function measureServices(services: Record<Variant, ChildServer>, images: number, rounds: number): Promise<Record<Variant, Measurements>> {
  const samples: Record<Variant, Record<string, number[]>> = { without_history: {}, with_history: {} };
  const total = Math.max(rounds, SERVICE_ROUNDS);
  for (let r = 0; r < total; r++)
    for (const v of r % 2 ? [...VARIANTS].reverse() : VARIANTS)
      await measureRound(services[v], images, r, (name, ms) => (samples[v][name] ??= []).push(ms));
  const medians = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(median(v), 2)]));
  return { without_history: medians(samples.without_history), with_history: medians(samples.with_history) };
}

/** The fewest rounds of the service's measurements (ingest, cache-miss lookups, re-evaluation) per database. */
const SERVICE_ROUNDS = 7;

/** Warm-up runs of each docs query on each database before its sampled runs. */
const QUERY_WARMUPS = 3;

export function querySamples(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SCALE_QUERY_SAMPLES === undefined ? 31 : Number(env.SCALE_QUERY_SAMPLES);
  if (!Number.isInteger(v) || v < 1) throw new Error("SCALE_QUERY_SAMPLES must be a whole number of runs, at least 1");
  return v;
}

/**
 * Every docs/sql.md query on both databases: QUERY_WARMUPS runs on each, then `samples` runs on each, alternating
 * between the two (without, with, without, ...), so that a noisy moment of the shared machine lands on both sides
 * instead of deciding one ratio; each figure is the median of its samples.
 */
async function measureQueries(clients: Record<Variant, Client>, samples: number): Promise<Record<Variant, Measurements>> {
  const out: Record<Variant, Measurements> = { without_history: {}, with_history: {} };
  const queries = docQueries(imageDigest(1));
  for (const q of queries) {
    for (const v of VARIANTS) for (let k = 0; k < QUERY_WARMUPS; k++) await clients[v].query(q.sql, q.params);
    const runs: Record<Variant, number[]> = { without_history: [], with_history: [] };
    for (let k = 0; k < samples; k++)
      for (const v of k % 2 ? [...VARIANTS].reverse() : VARIANTS) runs[v].push(await timed(() => clients[v].query(q.sql, q.params)));
    for (const v of VARIANTS) out[v][`sql: ${q.name}`] = round(median(runs[v]), 2);
  }
  // SCALE_EXPLAIN=<file prefix>: each docs query's EXPLAIN ANALYZE, to see which of them read history.
  if (process.env.SCALE_EXPLAIN)
    for (const v of VARIANTS) {
      const file = `${process.env.SCALE_EXPLAIN}-${v}.txt`;
      const stats = await clients[v].query("SELECT attname, n_distinct, correlation FROM pg_stats WHERE tablename = 'findings'");
      fs.appendFileSync(file, `-- pg_stats findings\n${JSON.stringify(stats.rows)}\n\n`);
      for (const q of queries) {
        const { rows } = await clients[v].query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.params);
        fs.appendFileSync(file, `-- ${q.name}\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}\n\n`);
      }
    }
  return out;
}

const VARIANTS = ["without_history", "with_history"] as const;
type Variant = (typeof VARIANTS)[number];

export async function runScaleScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string; log?: (s: string) => void }): Promise<ScenarioResult> {
  const log = settings.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const size = scaleSize();
  const images = Math.max(1, Math.round(size.currentFindings / FINDINGS_PER_REPORT));
  const historyReports = Math.round(size.historyFindings / FINDINGS_PER_REPORT);
  const samples = querySamples();
  const results = {} as Record<Variant, Measurements>;
  const clients = {} as Record<Variant, Client>;
  const urls = {} as Record<Variant, string>;
  try {
    // Both databases exist together, so that the docs queries can alternate between them.
    for (const variant of VARIANTS) {
      urls[variant] = await pg.database(`bench_scale_${variant}`);
      const client = new Client({ connectionString: urls[variant] });
      await client.connect();
      clients[variant] = client;
      const seeding = Date.now();
      await client.query(`INSERT INTO policy_versions (version, rules) VALUES (1, '{"max_severity_counts":{"CRITICAL":0,"HIGH":5}}'::jsonb) ON CONFLICT DO NOTHING`);
      // History first: rows are stored in receipt order, as the service stores them.
      const anchor = new Date().toISOString();
      if (variant === "with_history") await seedHistory(client, images, historyReports, anchor, log);
      await seedCurrent(client, images, anchor);
      await client.query("VACUUM ANALYZE");
      const rollup = await rollUpBeforeMeasuring(urls[variant]);
      log(`  scale_20m ${variant}: history rolled up in ${rollup.toFixed(1)} s`);
      // The seed's dirty pages are written out now, not by the checkpointer while the other database is measured.
      await client.query("CHECKPOINT");
      log(`  scale_20m ${variant}: seeded ${images} images${variant === "with_history" ? ` and ${historyReports * FINDINGS_PER_REPORT} history findings` : ""} in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);
    }
    const services = {} as Record<Variant, ChildServer>;
    try {
      for (const variant of VARIANTS)
        services[variant] = await startService({ DATABASE_URL: urls[variant], ADMIN_TOKEN: BENCH_ADMIN_TOKEN, VERDICT_CACHE_SIZE: "0" }, path.join(settings.workDir, `scale-${variant}.log`));
      Object.assign(results, await measureServices(services, images, settings.rounds));
    } finally {
      for (const variant of VARIANTS) await services[variant]?.stop();
    }
    const queries = await measureQueries(clients, samples);
    for (const variant of VARIANTS) Object.assign(results[variant], queries[variant]);
  } finally {
    for (const variant of VARIANTS) {
      await clients[variant]?.end();
      if (urls[variant]) await pg.dropDatabase(`bench_scale_${variant}`);
    }
  }
  const ratios = Object.fromEntries(
    Object.keys(results.without_history!).map((k) => [k, round(results.with_history![k]! / Math.max(results.without_history![k]!, 0.01), 2)]),
  );
  const worst = Object.entries(ratios).sort((a, b) => b[1] - a[1])[0]!;
  return {
    name: "scale_20m",
    value: results.with_history![worst[0]]!,
    unit: "ms",
    baseline: `the same measurement without the history (worst: ${worst[0]})`,
    baseline_value: results.without_history![worst[0]]!,
    ratio: worst[1],
    target: "each measurement ≤ 1.2 × without history",
    pass: Object.values(ratios).every((r) => r <= 1.2),
    details: {
      current_findings: images * FINDINGS_PER_REPORT,
      history_findings: historyReports * FINDINGS_PER_REPORT,
      images,
      history_reports: historyReports,
      service_sampling: `ingest, cache-miss lookups (each sample the median of 200) and re-evaluation: the median of ${Math.max(settings.rounds, SERVICE_ROUNDS)} rounds per database, both services running, rounds alternating`,
      query_sampling: `each docs query: ${QUERY_WARMUPS} warm-ups per database, then the median of ${samples} runs per database, alternating (SCALE_QUERY_SAMPLES)`,
      size_knobs: "SCALE_CURRENT_FINDINGS, SCALE_HISTORY_FINDINGS (defaults 200000 and 20000000)",
      without_history_ms: results.without_history,
      with_history_ms: results.with_history,
      ratios,
    },
  };
}
