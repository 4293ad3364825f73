import type { Pool } from "pg";
import { inTransaction } from "../db/queryable";
import { rollUpNextDays, tryLockRollups, type RollupBatch } from "../db/rollup-repository";

/** Days per transaction: a catch-up of a year is ~52 short transactions, each reading a week of reports. */
export const ROLLUP_BATCH_DAYS = 7;

export interface RollupOptions {
  now: Date;
  batchDays?: number;
  /** Stop after this many batches (tests: a partial run); default: until the last closed day. */
  maxBatches?: number;
  /** Stops between batches (shutdown). */
  signal?: AbortSignal;
}

export interface RollupOutcome {
  /** False when another session held the rollup lock at some batch (it is rolling up, or a withdrawal is running). */
  ran: boolean;
  batches: RollupBatch[];
  /** The watermark after the run (YYYY-MM-DD), null when nothing is rolled up. */
  through: string | null;
  /** Whether the watermark reached the last closed day. */
  done: boolean;
}

/**
 * Rolls up the closed UTC days after the watermark (daily_finding_counts, daily_report_counts): a batch of days per
 * transaction, each under the rollup lock (tried: a replica that finds it taken leaves the work to the holder), so
 * a catch-up of a long history never holds a lock or a snapshot for long.
 */
export async function rollUpHistory(pool: Pool, options: RollupOptions): Promise<RollupOutcome> {
  const outcome: RollupOutcome = { ran: true, batches: [], through: null, done: false };
  const max = options.maxBatches ?? Number.POSITIVE_INFINITY;
  while (outcome.batches.length < max && !options.signal?.aborted) {
    const batch = await inTransaction(pool, async (tx) => ((await tryLockRollups(tx)) ? rollUpNextDays(tx, options.now, options.batchDays ?? ROLLUP_BATCH_DAYS) : null));
    if (!batch) return { ...outcome, ran: false };
    outcome.through = batch.through;
    outcome.done = batch.done;
    if (batch.from !== null) outcome.batches.push(batch);
    if (batch.done) break;
  }
  return outcome;
}
