import crypto from "node:crypto";
import fc from "fast-check";
import { Client } from "pg";
import { inTransaction } from "../../src/db/queryable";
import { findRolledUpThrough, lastClosedDay, lockRollupsShared, subtractWithdrawnReports, utcDay } from "../../src/db/rollup-repository";
import { markOperatorReportsDeleted } from "../../src/db/report-repository";
import { pruneHistory } from "../../src/ingest/prune-history";
import { rollUpHistory } from "../../src/reading/history-rollups";
import { docsQuery, explainPlan } from "../support/query-plan";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * The history rollups (daily_finding_counts, daily_report_counts) behind the views finding_counts_by_day and
 * report_counts_by_day. Oracle: an in-memory model of every report ever stored (its receipt, values, findings and
 * whether it was withdrawn) gives each UTC day's exact answer; the views must give it at every step — before any
 * rollup, after each partial batch, after the full catch-up, after reports arrive, after withdrawals, after history
 * retention deleted findings (which the rollups keep counting) and after withdrawals of pruned reports. Before any
 * prune, the raw aggregate over scan_reports and findings must give the model's answer too (the model is the raw
 * query's semantics).
 */

const DAY_MS = 86_400_000;
const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] as const;
const DIGESTS = ["a", "b", "c", "d"].map((c) => `sha256:${c.repeat(64)}`);

interface ModelFinding {
  kind: "vulnerability" | "secret";
  severity: string;
  status: string | null;
}
interface ModelReport {
  id: string;
  receivedAt: Date;
  source: string | null;
  scannerVersion: string | null;
  format: "trivy" | "trivy-operator";
  digest: string;
  findings: ModelFinding[];
  deleted: boolean;
}

const findingArb: fc.Arbitrary<ModelFinding> = fc.record({
  kind: fc.constantFrom("vulnerability" as const, "vulnerability" as const, "secret" as const),
  severity: fc.constantFrom(...SEVERITIES),
  status: fc.constantFrom(null, "fixed", "affected", "not_affected"),
});
interface ReportSpec {
  dayOffset: number;
  second: number;
  source: string | null;
  scannerVersion: string | null;
  format: "trivy" | "trivy-operator";
  digest: string;
  findings: ModelFinding[];
}
/** A report received `dayOffset` days before NOW's day, at `second` of that day (never after NOW). */
const reportArb: fc.Arbitrary<ReportSpec> = fc.record({
  dayOffset: fc.integer({ min: 0, max: 30 }),
  second: fc.oneof(fc.constantFrom(0, 86_399), fc.integer({ min: 0, max: 86_399 })),
  source: fc.constantFrom(null, "github-actions", "gitlab-ci"),
  scannerVersion: fc.constantFrom(null, "0.50.0", "0.51.1"),
  format: fc.constantFrom("trivy" as const, "trivy-operator" as const),
  digest: fc.constantFrom(...DIGESTS),
  findings: fc.array(findingArb, { maxLength: 8 }),
});
/** NOW: any moment of some days, the first hour after midnight (yesterday not closed yet) included. */
const nowArb = fc.oneof(fc.integer({ min: 0, max: 3_599 }), fc.integer({ min: 0, max: 86_399 })).chain((s) =>
  fc.integer({ min: 0, max: 200 }).map((d) => new Date(Date.parse("2026-03-01T00:00:00Z") + d * DAY_MS + s * 1000)),
);

const scenarioArb = fc.record({
  now: nowArb,
  history: fc.array(reportArb, { maxLength: 25 }),
  batchDays: fc.integer({ min: 1, max: 10 }),
  partialBatches: fc.integer({ min: 0, max: 4 }),
  laterArrivals: fc.array(reportArb.map((r) => ({ ...r, dayOffset: 0 })), { maxLength: 5 }),
  withdrawnBeforePrune: fc.subarray(DIGESTS, { maxLength: 2 }),
  withdrawnAfterPrune: fc.subarray(DIGESTS, { maxLength: 2 }),
  pruneOlderThanDays: fc.integer({ min: 1, max: 20 }),
  /** Prune while another session holds the rollup lock: the rollup cannot run first, retention must wait for it. */
  pruneWhileRollupLocked: fc.boolean(),
});

let database: TestDatabase;
const q = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => database.db.pool.query<R>(sql, params).then((r) => r.rows);

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database?.drop());

async function reset(): Promise<void> {
  await q("TRUNCATE scan_reports, daily_finding_counts, daily_report_counts CASCADE");
  await q("UPDATE history_rollup_state SET rolled_up_through = NULL");
}

function materialise(now: Date, spec: ReportSpec, jitterMs = 0): ModelReport {
  const dayStart = Date.parse(`${utcDay(now)}T00:00:00Z`) - spec.dayOffset * DAY_MS;
  const receivedAt = new Date(Math.min(dayStart + spec.second * 1000, now.getTime() - jitterMs));
  return { id: crypto.randomUUID(), receivedAt, source: spec.source, scannerVersion: spec.scannerVersion, format: spec.format, digest: spec.digest, findings: spec.findings, deleted: false };
}

async function store(reports: readonly ModelReport[]): Promise<void> {
  for (const r of reports) {
    await q(
      `INSERT INTO scan_reports (id, received_at, scanned_at, format, scanner, scanner_version, report_sha256, source, finding_count)
       VALUES ($1, $2, $2, $3, 'Trivy', $4, $5, $6, $7)`,
      [r.id, r.receivedAt, r.format, r.scannerVersion, crypto.createHash("sha256").update(r.id).digest("hex"), r.source, r.findings.length],
    );
    await q("INSERT INTO scan_report_images (report_id, image_digest, received_at) VALUES ($1, $2, $3)", [r.id, r.digest, r.receivedAt]);
    for (const [i, f] of r.findings.entries())
      await q("INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, status, severity) VALUES ($1, $2, $3, $4, $5, $6)", [r.id, f.kind, `CVE-2026-${i}`, `pkg-${i}`, f.status, f.severity]);
  }
}

type FindingRow = { day: string; severity: string; findings: number; reports: number };
type ReportRow = { day: string; source: string | null; scanner: string; scanner_version: string | null; format: string; reports: number; last_received: string };
const byKey = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();

/** What the views must answer: the model's per-day aggregates. */
function expected(reports: readonly ModelReport[]): { findings: string[]; reports: string[] } {
  const f = new Map<string, { findings: number; reports: Set<string> }>();
  const r = new Map<string, { reports: number; last: number }>();
  for (const rep of reports) {
    const day = utcDay(rep.receivedAt);
    const rk = JSON.stringify([day, rep.source, "Trivy", rep.scannerVersion, rep.format]);
    const rv = r.get(rk) ?? { reports: 0, last: 0 };
    r.set(rk, { reports: rv.reports + 1, last: Math.max(rv.last, rep.receivedAt.getTime()) });
    if (rep.deleted) continue;
    for (const x of rep.findings) {
      if (x.kind !== "vulnerability" || x.status === "not_affected") continue;
      const k = JSON.stringify([day, x.severity]);
      const v = f.get(k) ?? { findings: 0, reports: new Set<string>() };
      v.findings++;
      v.reports.add(rep.id);
      f.set(k, v);
    }
  }
  return {
    findings: byKey([...f].map(([k, v]) => {
      const [day, severity] = JSON.parse(k) as [string, string];
      return { day, severity, findings: v.findings, reports: v.reports.size } satisfies FindingRow;
    })),
    reports: byKey([...r].map(([k, v]) => {
      const [day, source, scanner, scanner_version, format] = JSON.parse(k) as [string, string | null, string, string | null, string];
      return { day, source, scanner, scanner_version, format, reports: v.reports, last_received: new Date(v.last).toISOString() } satisfies ReportRow;
    })),
  };
}

const FINDING_COLUMNS = "to_char(day, 'YYYY-MM-DD') AS day, severity, findings::int AS findings, reports::int AS reports";
const REPORT_COLUMNS = "to_char(day, 'YYYY-MM-DD') AS day, source, scanner, scanner_version, format, reports::int AS reports, to_char(last_received AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS last_received";

async function fromViews(): Promise<{ findings: string[]; reports: string[] }> {
  return {
    findings: byKey(await q<FindingRow>(`SELECT ${FINDING_COLUMNS} FROM finding_counts_by_day`)),
    reports: byKey(await q<ReportRow>(`SELECT ${REPORT_COLUMNS} FROM report_counts_by_day`)),
  };
}

/** The raw aggregates the views stand for (the docs queries' semantics, per UTC day). */
async function fromRawRows(): Promise<{ findings: string[]; reports: string[] }> {
  return {
    findings: byKey(await q<FindingRow>(
      `SELECT ${FINDING_COLUMNS} FROM (
         SELECT (r.received_at AT TIME ZONE 'UTC')::date AS day, f.severity, count(*) AS findings, count(DISTINCT r.id) AS reports
         FROM scan_reports r JOIN findings f ON f.report_id = r.id
         WHERE f.kind = 'vulnerability' AND f.status IS DISTINCT FROM 'not_affected' AND r.deleted_at IS NULL
         GROUP BY 1, 2) x`,
    )),
    reports: byKey(await q<ReportRow>(
      `SELECT ${REPORT_COLUMNS} FROM (
         SELECT (received_at AT TIME ZONE 'UTC')::date AS day, source, scanner, scanner_version, format, count(*) AS reports, max(received_at) AS last_received
         FROM scan_reports GROUP BY 1, 2, 3, 4, 5) x`,
    )),
  };
}

/** A Trivy Operator delete of `digest`, as the webhook does it: withdrawn and subtracted in one transaction. */
async function withdraw(model: ModelReport[], digest: string, now: Date): Promise<void> {
  const ids = await inTransaction(database.db.pool, async (tx) => {
    await lockRollupsShared(tx);
    const marked = await markOperatorReportsDeleted(tx, digest, now);
    await subtractWithdrawnReports(tx, marked);
    return marked;
  });
  const live = model.filter((r) => r.digest === digest && r.format === "trivy-operator" && !r.deleted);
  expect(ids.sort()).toEqual(live.map((r) => r.id).sort());
  for (const r of live) r.deleted = true;
}

test("for any reports, rollup progress, arrivals, withdrawals and retention prunes, the views answer exactly what the stored history is", async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (s) => {
      await reset();
      const model = s.history.map((spec) => materialise(s.now, spec));
      await store(model);
      const check = async (label: string, raw = true) => {
        const want = expected(model);
        if (raw) expect({ label, ...(await fromRawRows()) }).toEqual({ label, ...want });
        expect({ label, ...(await fromViews()) }).toEqual({ label, ...want });
      };
      await check("nothing rolled up");

      // Partially, one batch at a time, then to the end.
      for (let b = 0; b < s.partialBatches; b++) {
        await rollUpHistory(database.db.pool, { now: s.now, batchDays: s.batchDays, maxBatches: 1 });
        await check(`after batch ${b + 1}`);
      }
      const full = await rollUpHistory(database.db.pool, { now: s.now, batchDays: s.batchDays });
      expect(full).toMatchObject({ ran: true, done: true, through: lastClosedDay(s.now) });
      await check("rolled up to the last closed day");
      const rows = await q<{ n: number }>("SELECT count(*)::int AS n FROM daily_finding_counts WHERE day > $1::date", [lastClosedDay(s.now)]);
      expect(rows[0]!.n).toBe(0);

      // Uploads after the rollup (received now): counted live.
      const later = s.laterArrivals.map((spec, i) => materialise(s.now, { ...spec, second: 86_399 }, i * 1000));
      await store(later);
      model.push(...later);
      await check("after later arrivals");

      for (const d of s.withdrawnBeforePrune) await withdraw(model, d, s.now);
      await check("after withdrawals");

      // Retention: no image_scans rows, so every report older than the cutoff is superseded and prunable.
      let holder: Client | null = null;
      if (s.pruneWhileRollupLocked) {
        holder = new Client({ connectionString: database.url });
        await holder.connect();
        await holder.query("BEGIN");
        await holder.query("SELECT pg_advisory_xact_lock($1)", [0x5ca9_0019]);
      }
      const pruneNow = new Date(s.now.getTime() + 2 * DAY_MS);
      try {
        await pruneHistory(database.db.pool, { olderThanDays: s.pruneOlderThanDays, batchSize: 3, waitForLock: true, now: pruneNow });
      } finally {
        await holder?.query("ROLLBACK");
        await holder?.end();
      }
      const through = await findRolledUpThrough(database.db.pool);
      const pruned = await q<{ id: string; received_at: Date }>("SELECT id, received_at FROM scan_reports WHERE pruned_at IS NOT NULL");
      for (const p of pruned) expect(utcDay(p.received_at) <= through!).toBe(true);
      if (!s.pruneWhileRollupLocked) expect(through).toBe(lastClosedDay(pruneNow));
      const cutoff = pruneNow.getTime() - s.pruneOlderThanDays * DAY_MS;
      const prunable = model.filter((r) => r.receivedAt.getTime() < cutoff && utcDay(r.receivedAt) <= through!);
      expect(pruned.map((p) => p.id).sort()).toEqual(prunable.map((r) => r.id).sort());
      const left = await q<{ n: number }>("SELECT count(*)::int AS n FROM findings WHERE report_id = ANY($1::uuid[])", [pruned.map((p) => p.id)]);
      expect(left[0]!.n).toBe(0);
      await check("after the prune (the rollups keep counting deleted findings)", pruned.length === 0);

      for (const d of s.withdrawnAfterPrune) await withdraw(model, d, pruneNow);
      await check("after withdrawals of pruned reports", false);

      const caughtUp = await rollUpHistory(database.db.pool, { now: new Date(pruneNow.getTime() + 3 * DAY_MS), batchDays: s.batchDays });
      expect(caughtUp.done).toBe(true);
      await check("rolled up again, days later", false);
    }),
    { numRuns: 40 },
  );
});

test("when the documented weekly and 90-day queries read the views, then they answer what the raw queries over whole UTC periods answer", async () => {
  await reset();
  const now = new Date();
  const specs = fc.sample(reportArb.map((r) => ({ ...r, dayOffset: 0 })), { numRuns: 60, seed: 16 });
  // Received over the last 120 days, so that both windows have reports inside and outside them.
  const model = specs.map((spec, i) => materialise(now, { ...spec, dayOffset: (i * 37) % 120 }));
  await store(model);
  await rollUpHistory(database.db.pool, { now, batchDays: 5, maxBatches: 10 });
  const weeklyRaw = `
    SELECT date_trunc('week', r.received_at AT TIME ZONE 'UTC')::date AS week, f.severity, count(*) AS findings, count(DISTINCT r.id) AS reports
    FROM scan_reports r JOIN findings f ON f.report_id = r.id
    WHERE f.kind = 'vulnerability' AND f.status IS DISTINCT FROM 'not_affected' AND r.deleted_at IS NULL
      AND r.received_at >= (date_trunc('week', now() AT TIME ZONE 'UTC') - interval '11 weeks') AT TIME ZONE 'UTC'
    GROUP BY 1, 2 ORDER BY 1, array_position(ARRAY['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'], f.severity)`;
  const sourcesRaw = `
    SELECT coalesce(source, '(not given)') AS source, scanner, scanner_version, format, count(*) AS reports, max(received_at) AS last_received
    FROM scan_reports WHERE received_at >= ((now() AT TIME ZONE 'UTC')::date - 89)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2, 3, 4 ORDER BY reports DESC, source, scanner_version`;
  for (let step = 0; step < 3; step++) {
    const weekly = await q(docsQuery("vulnerability findings by severity per week"));
    expect(weekly.length).toBeGreaterThan(0);
    expect(weekly).toEqual(await q(weeklyRaw));
    const sources = await q(docsQuery("reports per source and scanner version"));
    expect(sources.length).toBeGreaterThan(0);
    // Ties in the documented order (equal counts) may come in any order: compare as sets, and the order of counts.
    expect(byKey(sources)).toEqual(byKey(await q(sourcesRaw)));
    expect(sources.map((r) => r.reports)).toEqual((await q(sourcesRaw)).map((r) => r.reports));
    await rollUpHistory(database.db.pool, step === 0 ? { now, batchDays: 30, maxBatches: 2 } : { now, batchDays: 30 });
  }
  expect(await findRolledUpThrough(database.db.pool)).toBe(lastClosedDay(now));
});

test("when the documented history questions run with the rollups up to date, then they read the rollup rows and only the reports after the watermark (received_at index), never the history's findings", async () => {
  await reset();
  // 20,000 reports over the last 200 days (10 findings each), as time-ordered IDs in receipt order, then rolled up.
  await q(`INSERT INTO scan_reports (id, received_at, scanned_at, format, scanner, scanner_version, report_sha256, source, finding_count)
           SELECT md5('plan' || i)::uuid, now() - make_interval(secs => (20000 - i) * 864.0), now(), 'trivy', 'Trivy', '0.5' || (i % 10), md5('plan-sha' || i), 'ci', 10
           FROM generate_series(1, 20000) AS i`);
  await q(`INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, severity)
           SELECT md5('plan' || i)::uuid, 'vulnerability', 'CVE-2024-' || j, 'pkg-' || j, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'])[1 + (i + j) % 5]
           FROM generate_series(1, 20000) AS i, generate_series(1, 10) AS j`);
  const outcome = await rollUpHistory(database.db.pool, { now: new Date() });
  expect(outcome.done).toBe(true);
  await q("ANALYZE");
  for (const name of ["vulnerability findings by severity per week", "reports per source and scanner version"]) {
    const nodes = await explainPlan(database.db.pool, docsQuery(name));
    const reports = nodes.filter((n) => n["Relation Name"] === "scan_reports");
    expect({ name, reports: reports.map((n) => [n["Node Type"], n["Index Name"], n["Index Cond"]]) }).toEqual({
      name,
      reports: [["Index Scan", "scan_reports_received_at_idx", "(received_at >= history_rollup_live_from())"]],
    });
    expect({ name, seq: nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "findings") }).toEqual({ name, seq: [] });
  }
});
