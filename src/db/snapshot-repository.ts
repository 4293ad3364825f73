/**
 * Daily snapshots (table daily_snapshots): the fleet's figures once per UTC day, for the overview's trend charts.
 * Raw SQL: a transaction-level advisory lock, grouped counts with FILTER and INSERT … SELECT … ON CONFLICT.
 */
import type { Pool } from "pg";
import { inTransaction, type Queryable } from "./queryable";

/** One-key advisory lock of the snapshot: beside the policy (…0002), runtime (…0005) and prune (…0016) locks. */
const SNAPSHOT_LOCK_ID = 0x5ca9_0018;

export interface DailySnapshotRow {
  /** YYYY-MM-DD (UTC). */
  day: string;
  taken_at: Date;
  images: number;
  compliant: number;
  non_compliant: number;
  stale: number;
  not_scanned: number;
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
  secrets: number;
  misconfigurations: number;
  open_violations: number;
}

/**
 * Takes the snapshot of `now`'s UTC day unless it exists: in one transaction holding the snapshot lock, tried (a
 * replica that finds another one taking it gives up at once), so one replica takes it and the others skip. Returns
 * whether this call wrote it.
 */
export async function takeDailySnapshot(pool: Pool, now: Date): Promise<boolean> {
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS locked", [SNAPSHOT_LOCK_ID]);
    if (!rows[0]?.locked) return false;
    const { rowCount } = await tx.query(
      `INSERT INTO daily_snapshots (day, taken_at, images, compliant, non_compliant, stale, not_scanned, critical, high, medium, low,
         unknown, secrets, misconfigurations, open_violations)
       SELECT ($1::timestamptz AT TIME ZONE 'UTC')::date, $1, count(*),
         count(*) FILTER (WHERE status = 'compliant'), count(*) FILTER (WHERE status = 'non_compliant'),
         count(*) FILTER (WHERE status = 'stale'), count(*) FILTER (WHERE status = 'not_scanned'),
         coalesce(sum(critical_count), 0), coalesce(sum(high_count), 0), coalesce(sum(medium_count), 0), coalesce(sum(low_count), 0),
         coalesce(sum(unknown_count), 0), coalesce(sum(secret_count), 0), coalesce(sum(misconfiguration_count), 0),
         (SELECT count(*) FROM runtime_violations WHERE resolved_at IS NULL)
       FROM image_scans
       ON CONFLICT (day) DO NOTHING`,
      [now],
    );
    return (rowCount ?? 0) > 0;
  });
}

/** Whether `now`'s UTC day has its snapshot. */
export async function hasDailySnapshot(q: Queryable, now: Date): Promise<boolean> {
  const { rowCount } = await q.query("SELECT 1 FROM daily_snapshots WHERE day = ($1::timestamptz AT TIME ZONE 'UTC')::date", [now]);
  return (rowCount ?? 0) > 0;
}

/** The snapshots of the `days` UTC days up to and including `now`'s, oldest first (days without one are absent). */
export async function listDailySnapshots(q: Queryable, now: Date, days: number): Promise<DailySnapshotRow[]> {
  const { rows } = await q.query<DailySnapshotRow>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, taken_at, images, compliant, non_compliant, stale, not_scanned,
       critical::float8 AS critical, high::float8 AS high, medium::float8 AS medium, low::float8 AS low, unknown::float8 AS unknown,
       secrets::float8 AS secrets, misconfigurations::float8 AS misconfigurations, open_violations
     FROM daily_snapshots
     WHERE day > ($1::timestamptz AT TIME ZONE 'UTC')::date - $2::int AND day <= ($1::timestamptz AT TIME ZONE 'UTC')::date
     ORDER BY day`,
    [now, days],
  );
  return rows;
}
