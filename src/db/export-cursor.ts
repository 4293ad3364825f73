/**
 * Exports read their rows through a server-side cursor: one statement, one snapshot, FETCH a batch at a time, and the
 * caller writes each batch before the next is fetched (waiting for a slow client), so memory stays flat whatever the
 * result's size and the export is consistent even while uploads change the data. Raw SQL: DECLARE/FETCH.
 */
import type { Pool, QueryResultRow } from "pg";
import { inReadOnlySnapshot } from "./queryable";

const EXPORT_BATCH = 500;

/**
 * Runs `sql` as a NO SCROLL cursor in a READ ONLY REPEATABLE READ transaction and hands `onBatch` up to `batch` rows
 * at a time, until the rows run out or `onBatch` answers false (the client went away). The cursor and its
 * connection end with the transaction.
 */
export async function streamQuery<R extends QueryResultRow>(
  pool: Pool,
  query: { sql: string; params: unknown[] },
  onBatch: (rows: R[]) => Promise<boolean>,
  batch = EXPORT_BATCH,
): Promise<void> {
  await inReadOnlySnapshot(pool, async (tx) => {
    await tx.query(`DECLARE export_cursor NO SCROLL CURSOR FOR ${query.sql}`, query.params);
    for (;;) {
      const { rows } = await tx.query<R>(`FETCH FORWARD ${Math.max(1, Math.floor(batch))} FROM export_cursor`);
      if (rows.length === 0) break;
      if (!(await onBatch(rows))) break;
      if (rows.length < batch) break;
    }
    await tx.query("CLOSE export_cursor");
  });
}
