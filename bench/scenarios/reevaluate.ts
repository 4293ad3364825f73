import path from "node:path";
import { Client } from "pg";
import type { BenchPostgres } from "../lib/postgres";
import { startService } from "../lib/processes";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN } from "../lib/service-client";
import { median, round } from "../lib/stats";

/** Size knobs (for a quick check: BENCH_REEVALUATE_IMAGES=2000 BENCH_RUNNING_CONTAINERS=1000). */
const IMAGES = Number(process.env.BENCH_REEVALUATE_IMAGES ?? 100_000);
const RUNNING = Math.min(IMAGES, Number(process.env.BENCH_RUNNING_CONTAINERS ?? 50_000));
const TEMPLATES = 64;
const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] as const;

/**
 * Evaluation inputs as ingest stores them (scan_reports.evaluation_input): 10–30 findings each, mostly LOW/MEDIUM,
 * about half fixable. Even templates carry 4 fixable HIGH findings, odd ones 1, and none carries a CRITICAL, so the two
 * policies the scenario alternates (HIGH ≤ 2 / HIGH ≤ 5) flip exactly half of the verdicts every round, as PRODUCT.md's
 * scenario asks. 64 templates; every image has its own report row (images share an input only by sharing a report in
 * production, so the service may not evaluate a template once for all of them).
 */
function evaluationInputs(): string[] {
  const inputs: string[] = [];
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let t = 0; t < TEMPLATES; t++) {
    const n = 10 + Math.floor(next() * 21);
    const findings = [];
    for (let i = 0; i < n; i++) {
      const r = next();
      const sev = r < 0.6 ? SEVERITIES[2] : r < 0.95 ? SEVERITIES[3] : SEVERITIES[4];
      findings.push({ k: "v", id: `CVE-2024-${1000 + Math.floor(next() * 30000)}`, sev, fix: next() < 0.5, st: next() < 0.5 ? "fixed" : "affected" });
    }
    for (let h = 0; h < (t % 2 === 0 ? 4 : 1); h++) {
      findings.push({ k: "v", id: `CVE-2025-${10000 + t * 10 + h}`, sev: SEVERITIES[1], fix: true, st: "fixed" });
    }
    inputs.push(JSON.stringify(findings));
  }
  return inputs;
}

export async function seed(client: Client): Promise<void> {
  await client.query(
    `INSERT INTO scan_reports (id, scanned_at, format, scanner, report_sha256, finding_count, evaluation_input)
     SELECT md5('bench-report' || i)::uuid, now() - make_interval(hours => i % 1000), 'trivy', 'Trivy', md5('bench-sha' || i),
            jsonb_array_length(($1::jsonb[])[1 + i % $2]), ($1::jsonb[])[1 + i % $2]
     FROM generate_series(1, $3) AS i`,
    [evaluationInputs(), TEMPLATES, IMAGES],
  );
  await client.query(
    `INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons, policy_version)
     SELECT 'sha256:' || encode(sha256(('bench-image' || i)::bytea), 'hex'), 'registry.example.com/team-' || (i % 500) || '/app',
            ARRAY['1.' || i], md5('bench-report' || i)::uuid, now() - make_interval(hours => i % 1000), true, 'compliant', '[]'::jsonb, 1
     FROM generate_series(1, $1) AS i`,
    [IMAGES],
  );
  await client.query("ANALYZE");
}

/**
 * 50,000 running containers (a snapshot's rows), each running one of the first images: a container per image, half
 * of them in even templates, so every policy round flips half of their verdicts and opens or resolves that many
 * runtime violations in the re-evaluation's transaction.
 */
export async function seedRunning(client: Client): Promise<void> {
  await client.query(
    `INSERT INTO workload_containers (cluster, namespace, kind, name, container, image_ref, repository, image_digest, pods, first_seen_at, last_seen_at, source)
     SELECT 'bench', 'team-' || (i % 200), 'Deployment', 'svc-' || i, 'main', 'registry.example.com/team-' || (i % 500) || '/app:1.' || i,
            'registry.example.com/team-' || (i % 500) || '/app', 'sha256:' || encode(sha256(('bench-image' || i)::bytea), 'hex'), 2, now(), now(), 'inventory'
     FROM generate_series(1, $1) AS i`,
    [RUNNING],
  );
  await client.query("ANALYZE workload_containers");
}

const POLICIES = [
  { max_severity_counts: { CRITICAL: 0, HIGH: 2 } },
  { max_severity_counts: { CRITICAL: 0, HIGH: 5 }, ignore_unfixed: true },
];

/** Rounds of PUT /v1/policy (alternating the two policies) beside rounds of the raw UPDATE, interleaved. */
async function measure(client: Client, serviceUrl: string, rounds: number, firstRound: number, label: string) {
  const put: number[] = [];
  const raw: number[] = [];
  const answers: unknown[] = [];
  const runPut = async (round: number) => {
    const started = process.hrtime.bigint();
    const res = await fetch(`${serviceUrl}/v1/policy`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify(POLICIES[round % 2]),
    });
    const body = (await res.json()) as { reevaluated?: number; changed?: number; version?: number };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (res.status !== 200 || body.reevaluated !== IMAGES) throw new Error(`PUT /v1/policy answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    put.push(round3(seconds));
    const open = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM runtime_violations WHERE resolved_at IS NULL");
    answers.push({ version: body.version, reevaluated: body.reevaluated, changed: body.changed, open_violations_after: open.rows[0]!.n });
  };
  const runRaw = async () => {
    const started = process.hrtime.bigint();
    await client.query(
      `UPDATE image_scans SET is_compliant = is_compliant, status = status, reasons = reasons, policy_version = policy_version,
         evaluated_at = now(), valid_until = valid_until`,
    );
    raw.push(round3(Number(process.hrtime.bigint() - started) / 1e9));
  };
  for (let i = 0; i < rounds; i++) {
    const round = firstRound + i;
    if (i % 2 === 0) {
      await runPut(round);
      await runRaw();
    } else {
      await runRaw();
      await runPut(round);
    }
    process.stderr.write(`  ${label} round ${i + 1}: PUT ${put[put.length - 1]} s, raw UPDATE ${raw[raw.length - 1]} s\n`);
  }
  return { put, raw, answers };
}

/**
 * reevaluate_100k: PUT /v1/policy over 100,000 stored images (each with a 10–30 finding evaluation input), client
 * wall time until the answer; the new version and every verdict are committed when it returns. Baseline: one raw
 * UPDATE writing the same columns of the same 100,000 rows.
 *
 * reevaluate_100k_running: the same, on the same database, after 50,000 containers start running those images:
 * every round also opens or resolves the runtime violations of the half whose verdicts flip, in the same
 * transaction. Same baseline, same target.
 */
export async function runReevaluateScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string }): Promise<ScenarioResult[]> {
  const databaseUrl = await pg.database("bench_reevaluate");
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const service = await startService({ DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, path.join(settings.workDir, "reevaluate-service.log"));
  try {
    const seeding = Date.now();
    await seed(client);
    process.stderr.write(`  seeded ${IMAGES} images in ${((Date.now() - seeding) / 1000).toFixed(1)} s\n`);
    const plain = await measure(client, service.url, settings.rounds, 0, "reevaluate");
    await seedRunning(client);
    process.stderr.write(`  ${RUNNING} containers running\n`);
    // The first PUT after the containers appear opens violations from nothing; measured rounds start after it, so
    // each round flips half of them as the plain rounds flip half of the verdicts.
    await measure(client, service.url, 1, settings.rounds, "reevaluate_running warm-up");
    const running = await measure(client, service.url, settings.rounds, settings.rounds + 1, "reevaluate_running");
    const result = (name: string, m: typeof plain, extra: Record<string, unknown>): ScenarioResult => {
      const value = median(m.put);
      const baselineValue = median(m.raw);
      return {
        name,
        value: round(value, 2),
        unit: "s",
        baseline: `one raw UPDATE of the same columns of the same ${IMAGES.toLocaleString("en-US")} rows`,
        baseline_value: round(baselineValue, 2),
        ratio: round(value / baselineValue, 2),
        target: "≤ 2 × one raw UPDATE of the same columns of the same rows",
        pass: value / baselineValue <= 2,
        details: {
          images: IMAGES,
          findings_per_image: "10–30 (64 distinct evaluation inputs, round-robin)",
          request: "PUT /v1/policy, alternating two policies so that half of the verdicts change every round",
          ...extra,
          put_rounds_s: m.put,
          raw_update_rounds_s: m.raw,
          answers: m.answers,
        },
      };
    };
    return [
      result(IMAGES === 100_000 ? "reevaluate_100k" : `reevaluate_${IMAGES}`, plain, {}),
      result(IMAGES === 100_000 ? "reevaluate_100k_running" : `reevaluate_${IMAGES}_running`, running, {
        running_containers: RUNNING,
        violations: "half of the running containers' images flip each round: that many violations open or resolve in the re-evaluation's transaction",
      }),
    ];
  } finally {
    await client.end();
    await service.stop();
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
