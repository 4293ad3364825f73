/**
 * History rollups (tables daily_finding_counts, daily_report_counts, watermark history_rollup_state; views
 * finding_counts_by_day, report_counts_by_day): per-UTC-day aggregates of closed days, so that the analysts'
 * history queries read one row per day instead of every finding. Raw SQL: set-based INSERT … SELECT per batch of
 * days, transaction-level advisory locks (exclusive for the writer, shared for a withdrawal), which Prisma Client
 * does not express. Uploads never touch these tables.
 */
import type { Queryable } from "./queryable";

/** One-key advisory lock of the rollups: beside the snapshot (…0018) and prune (…0016) locks. */
const ROLLUP_LOCK_ID = 0x5ca9_0019;

/**
 * A UTC day is rolled up only once this long has passed since it ended: an upload whose clock read the day's last
 * moment commits well within it (statement and transaction timeouts are far shorter), so no report of a rolled-up
 * day can appear after its rollup.
 */
export const ROLLUP_CLOSE_DELAY_MS = 60 * 60_000;

const DAY_MS = 86_400_000;

/** YYYY-MM-DD of a UTC day. */
export function utcDay(t: Date): string {
  return t.toISOString().slice(0, 10);
}

/** The last UTC day that may be rolled up at `now`: the day before the one `ROLLUP_CLOSE_DELAY_MS` ago. */
export function lastClosedDay(now: Date): string {
  return utcDay(new Date(now.getTime() - ROLLUP_CLOSE_DELAY_MS - DAY_MS));
}

const addDays = (day: string, n: number) => utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));

/** Takes the rollup writer's lock for the rest of the transaction, or answers false at once when it is taken. */
export async function tryLockRollups(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS locked", [ROLLUP_LOCK_ID]);
  return rows[0]!.locked;
}

/**
 * Takes the rollup lock shared for the rest of the transaction (waiting for a rollup batch in progress): a withdrawal
 * then reads the watermark after any batch that counted its reports has committed, or before one that will not.
 */
export async function lockRollupsShared(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock_shared($1)", [ROLLUP_LOCK_ID]);
}

/** The watermark: the last UTC day rolled up (YYYY-MM-DD), or null when none is. */
export async function findRolledUpThrough(q: Queryable): Promise<string | null> {
  const { rows } = await q.query<{ through: string | null }>("SELECT to_char(rolled_up_through, 'YYYY-MM-DD') AS through FROM history_rollup_state");
  return rows[0]?.through ?? null;
}

export interface RollupBatch {
  /** Days rolled up by this batch (inclusive), or null when there was nothing to roll up. */
  from: string | null;
  to: string | null;
  /** The watermark after the batch. */
  through: string | null;
  /** Whether the watermark has reached the last closed day. */
  done: boolean;
}

/**
 * One batch, in the caller's transaction holding the writer's lock: rolls up at most `batchDays` days after the
 * watermark, up to the last closed day at `now`, and moves the watermark in the same transaction. A first run starts
 * at the oldest report's day; with no report at all the watermark moves straight to the last closed day.
 */
export async function rollUpNextDays(tx: Queryable, now: Date, batchDays: number): Promise<RollupBatch> {
  const closed = lastClosedDay(now);
  const through = await findRolledUpThrough(tx);
  let from: string;
  if (through !== null) {
    from = addDays(through, 1);
  } else {
    const { rows } = await tx.query<{ first: string | null }>(
      "SELECT to_char((min(received_at) AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS first FROM scan_reports",
    );
    from = rows[0]?.first ?? addDays(closed, 1);
    if (from > closed) {
      await setWatermark(tx, closed);
      return { from: null, to: null, through: closed, done: true };
    }
  }
  if (from > closed) return { from: null, to: null, through, done: true };
  const last = addDays(from, batchDays - 1);
  const to = last < closed ? last : closed;
  const range = [from, to];
  await tx.query(
    `INSERT INTO daily_finding_counts (day, severity, findings, reports)
     SELECT (r.received_at AT TIME ZONE 'UTC')::date, f.severity, count(*), count(DISTINCT r.id)
     FROM scan_reports r
     JOIN findings f ON f.report_id = r.id
     WHERE f.kind = 'vulnerability'
       AND f.status IS DISTINCT FROM 'not_affected'
       AND r.deleted_at IS NULL
       AND r.received_at >= ($1::date::timestamp AT TIME ZONE 'UTC')
       AND r.received_at < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')
     GROUP BY 1, 2`,
    range,
  );
  await tx.query(
    `INSERT INTO daily_report_counts (day, source, scanner, scanner_version, format, reports, last_received)
     SELECT (r.received_at AT TIME ZONE 'UTC')::date, r.source, r.scanner, r.scanner_version, r.format, count(*), max(r.received_at)
     FROM scan_reports r
     WHERE r.received_at >= ($1::date::timestamp AT TIME ZONE 'UTC')
       AND r.received_at < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')
     GROUP BY 1, 2, 3, 4, 5`,
    range,
  );
  await setWatermark(tx, to);
  return { from, to, through: to, done: to === closed };
}

async function setWatermark(tx: Queryable, day: string): Promise<void> {
  await tx.query("UPDATE history_rollup_state SET rolled_up_through = $1::date, updated_at = now()", [day]);
}

/**
 * Subtracts withdrawn reports (deleted_at just set, in the caller's transaction holding the shared rollup lock) from
 * the rolled-up days they were counted in: their findings, or for a pruned report the counts it kept when its
 * findings were deleted. Reports of days after the watermark need nothing (the rollup will not count them).
 */
export async function subtractWithdrawnReports(tx: Queryable, reportIds: readonly string[]): Promise<void> {
  if (reportIds.length === 0) return;
  await tx.query(
    `WITH gone AS (
       SELECT r.id, (r.received_at AT TIME ZONE 'UTC')::date AS day, r.pruned_vulnerability_counts AS kept
       FROM scan_reports r, history_rollup_state s
       WHERE r.id = ANY($1::uuid[]) AND (r.received_at AT TIME ZONE 'UTC')::date <= s.rolled_up_through
     ), counted AS (
       SELECT g.day, f.severity, count(*) AS findings, count(DISTINCT g.id) AS reports
       FROM gone g JOIN findings f ON f.report_id = g.id
       WHERE g.kept IS NULL AND f.kind = 'vulnerability' AND f.status IS DISTINCT FROM 'not_affected'
       GROUP BY 1, 2
       UNION ALL
       SELECT g.day, k.key, k.value::bigint, 1
       FROM gone g, jsonb_each_text(g.kept) AS k
       WHERE g.kept IS NOT NULL
     ), total AS (
       SELECT day, severity, sum(findings) AS findings, sum(reports) AS reports FROM counted GROUP BY 1, 2
     )
     UPDATE daily_finding_counts c SET findings = c.findings - t.findings, reports = c.reports - t.reports
     FROM total t WHERE c.day = t.day AND c.severity = t.severity`,
    [reportIds],
  );
  // A day and severity left without findings has no row, as the raw aggregate would have none (a few rows a year).
  await tx.query("DELETE FROM daily_finding_counts WHERE findings = 0");
}
