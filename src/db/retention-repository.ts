/**
 * History retention (RETENTION_SUPERSEDED_DAYS, `scan-registry prune`): raw SQL, because every step is a short
 * statement of its own transaction with row locks (FOR UPDATE SKIP LOCKED) and a transaction-level advisory lock,
 * which Prisma Client does not express. Nothing here holds a lock longer than one batch.
 */
import type { Queryable } from "./queryable";

/** One replica prunes at a time: every batch transaction takes this lock (transaction-level, so PgBouncer-safe). */
const PRUNE_LOCK_ID = 0x5ca9_0016;

/**
 * Takes the prune lock for the rest of the transaction: waiting for it (`wait`), or answering false at once when
 * another session is pruning.
 */
export async function lockPrune(tx: Queryable, wait: boolean): Promise<boolean> {
  if (wait) {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [PRUNE_LOCK_ID]);
    return true;
  }
  const { rows } = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS locked", [PRUNE_LOCK_ID]);
  return rows[0]!.locked;
}

/**
 * Marks up to `limit` reports pruned (pruned_at = now) that were received before `cutoff`, are not pruned yet and are
 * no image's current report; returns their IDs. Only reports of days the history rollups have counted (up to their
 * watermark) are pruned, and each keeps what it counted (pruned_vulnerability_counts): the rollups and their views
 * keep counting the findings deleted, and a later withdrawal subtracts exactly them. Reports locked by a concurrent upload (which may be making one of
 * them current again) are skipped, and an upload that locks one after this commits sees it pruned and restores it.
 */
export async function markPrunableReports(tx: Queryable, cutoff: Date, now: Date, limit: number): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `UPDATE scan_reports p SET pruned_at = $2,
       pruned_vulnerability_counts = (
         SELECT coalesce(jsonb_object_agg(c.severity, c.n), '{}'::jsonb)
         FROM (SELECT f.severity, count(*) AS n FROM findings f
               WHERE f.report_id = p.id AND f.kind = 'vulnerability' AND f.status IS DISTINCT FROM 'not_affected'
               GROUP BY f.severity) c)
     WHERE id IN (
       SELECT r.id FROM scan_reports r
       WHERE r.pruned_at IS NULL AND r.received_at < $1
         AND r.received_at < (SELECT coalesce((s.rolled_up_through + 1)::timestamp AT TIME ZONE 'UTC', '-infinity'::timestamptz) FROM history_rollup_state s)
         AND NOT EXISTS (SELECT 1 FROM image_scans s WHERE s.latest_report_id = r.id)
       ORDER BY r.received_at
       LIMIT $3
       FOR UPDATE OF r SKIP LOCKED)
     RETURNING id`,
    [cutoff, now, limit],
  );
  return rows.map((r) => r.id);
}

/** Pruned reports whose raw copy is still stored: a run that stopped half-way (the copy is deleted last). */
export async function listUnfinishedPrunes(q: Queryable, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `SELECT r.id FROM scan_report_raw w JOIN scan_reports r ON r.id = w.report_id
     WHERE r.pruned_at IS NOT NULL ORDER BY r.pruned_at, r.id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

/**
 * Deletes at most `limit` findings of these reports, only while they are still pruned (a report restored by a new
 * upload of its bytes keeps its findings); returns how many were deleted.
 */
export async function deletePrunedFindings(tx: Queryable, reportIds: readonly string[], limit: number): Promise<number> {
  const { rowCount } = await tx.query(
    `DELETE FROM findings WHERE id IN (
       SELECT f.id FROM findings f
       WHERE f.report_id = ANY($1::uuid[])
         AND EXISTS (SELECT 1 FROM scan_reports r WHERE r.id = f.report_id AND r.pruned_at IS NOT NULL)
       LIMIT $2)`,
    [reportIds, limit],
  );
  return rowCount ?? 0;
}

/** Deletes the raw copies of these reports, only while they are still pruned; returns how many. */
export async function deletePrunedRawCopies(tx: Queryable, reportIds: readonly string[]): Promise<{ copies: number; bytes: number }> {
  const { rows } = await tx.query<{ byte_size: string }>(
    `DELETE FROM scan_report_raw w USING scan_reports r
     WHERE w.report_id = ANY($1::uuid[]) AND r.id = w.report_id AND r.pruned_at IS NOT NULL
     RETURNING w.byte_size`,
    [reportIds],
  );
  return { copies: rows.length, bytes: rows.reduce((n, r) => n + Number(r.byte_size), 0) };
}

/** When the report's findings and copy were pruned, or null (kept, or no such report). */
export async function findReportPrunedAt(q: Queryable, reportId: string): Promise<Date | null> {
  const { rows } = await q.query<{ pruned_at: Date | null }>("SELECT pruned_at FROM scan_reports WHERE id = $1", [reportId]);
  return rows[0]?.pruned_at ?? null;
}

/**
 * An upload of a pruned report's bytes makes it whole again: locks the row (waiting for a prune batch that holds it),
 * deletes what a half-done prune left, and clears pruned_at. Returns true when the report was pruned, so the caller
 * stores its findings and copy again in the same transaction.
 */
export async function unpruneReport(tx: Queryable, reportId: string): Promise<boolean> {
  const { rows } = await tx.query<{ pruned_at: Date | null }>("SELECT pruned_at FROM scan_reports WHERE id = $1 FOR UPDATE", [reportId]);
  if (!rows[0]?.pruned_at) return false;
  await tx.query("DELETE FROM findings WHERE report_id = $1", [reportId]);
  await tx.query("DELETE FROM scan_report_raw WHERE report_id = $1", [reportId]);
  await tx.query("UPDATE scan_reports SET pruned_at = NULL, pruned_vulnerability_counts = NULL WHERE id = $1", [reportId]);
  return true;
}
