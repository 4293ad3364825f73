/**
 * `npx tsx bench/profile-reevaluate.ts`: where a policy change's re-evaluation spends its time, in process. Seeds the
 * reevaluate scenario's database (BENCH_REEVALUATE_IMAGES, BENCH_RUNNING_CONTAINERS=0 by default) on a dedicated
 * embedded PostgreSQL, then runs PolicyService.set alternating the scenario's two policies with every statement
 * timed (time from send to answer, summed by statement: re-evaluation pipelines its batches, so a statement queued
 * behind another on the connection counts that wait too) and the scenario's raw UPDATE beside it. For CPU time, run
 * it as `node --cpu-prof --import tsx bench/profile-reevaluate.ts`.
 */
import { Pool, type PoolClient } from "pg";
import { startBenchPostgres } from "./lib/postgres";
import { seed, seedRunning } from "./scenarios/reevaluate";
import { Client } from "pg";
import { PolicyService } from "../src/policy/policy-service";
import { TransactionHooks } from "../src/policy/transaction-hooks";
import { registerRuntimeViolationHooks } from "../src/runtime/violation-hooks";
import { recordVerdictChanges } from "../src/notifications/verdict-events";
import { policyRulesSchema } from "../src/domain/policy";

const RUNNING = Number(process.env.BENCH_RUNNING_CONTAINERS ?? 0);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 3);
const POLICIES = [
  { max_severity_counts: { CRITICAL: 0, HIGH: 2 } },
  { max_severity_counts: { CRITICAL: 0, HIGH: 5 }, ignore_unfixed: true },
];

const timings = new Map<string, { n: number; ms: number }>();
const wrapped = new WeakSet<PoolClient>();
function timed(client: PoolClient): PoolClient {
  if (wrapped.has(client)) return client;
  wrapped.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { query: unknown }).query = async (...args: unknown[]) => {
    const text = typeof args[0] === "string" ? args[0] : "?";
    const key = text.replace(/\s+/g, " ").slice(0, 70);
    const started = performance.now();
    try {
      return await query(...args);
    } finally {
      const t = timings.get(key) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += performance.now() - started;
      timings.set(key, t);
    }
  };
  return client;
}

async function main(): Promise<void> {
  const pg = await startBenchPostgres();
  try {
    const url = await pg.database("profile_reevaluate");
    const client = new Client({ connectionString: url });
    await client.connect();
    await seed(client);
    if (RUNNING > 0) await seedRunning(client);
    // e.g. PROFILE_SETUP_SQL='CREATE INDEX ON image_scans (status, image_digest)' to compare a schema change on the same data.
    if (process.env.PROFILE_SETUP_SQL) await client.query(process.env.PROFILE_SETUP_SQL);
    const pool = new Pool({ connectionString: url, max: 4 });
    const connect = pool.connect.bind(pool) as () => Promise<PoolClient>;
    (pool as unknown as { connect: unknown }).connect = async () => timed(await connect());
    const hooks = new TransactionHooks();
    registerRuntimeViolationHooks(hooks);
    hooks.onVerdictsStored(recordVerdictChanges);
    // No Prisma (set never reads versions through it) and no other replica's caches to empty.
    const service = new PolicyService({ pool, prisma: null as never, clock: () => new Date(), transactionHooks: hooks, verdictCache: { clear() {} }, policyCache: { invalidate() {} } } as never);
    for (let round = 0; round < ROUNDS + 1; round++) {
      timings.clear();
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const result = await service.set(policyRulesSchema.parse(POLICIES[round % 2]), null);
      const total = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const rawStarted = performance.now();
      await client.query(`UPDATE image_scans SET is_compliant = is_compliant, status = status, reasons = reasons, policy_version = policy_version, evaluated_at = now(), valid_until = valid_until`);
      const raw = performance.now() - rawStarted;
      process.stdout.write(`round ${round}: set ${total.toFixed(0)} ms (changed ${result.changed}), raw UPDATE ${raw.toFixed(0)} ms, ratio ${(total / raw).toFixed(2)}, this process's CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms\n`);
      for (const [key, t] of [...timings].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)) process.stdout.write(`   ${t.ms.toFixed(0).padStart(6)} ms ${String(t.n).padStart(4)}× ${key}\n`);
    }
    await pool.end();
    await client.end();
  } finally {
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
