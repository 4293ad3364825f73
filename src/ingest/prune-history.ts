import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import { inTransaction } from "../db/queryable";
import { rollUpHistory } from "../reading/history-rollups";
import { deletePrunedFindings, deletePrunedRawCopies, listUnfinishedPrunes, lockPrune, markPrunableReports } from "../db/retention-repository";

const DAY_MS = 86_400_000;
/** Reports marked per transaction: their findings are then deleted `batchSize` at a time. */
const REPORTS_PER_MARK = 50;

export interface PruneOptions {
  /** Reports received more than this many days ago that are no image's current report lose their findings and copy. */
  olderThanDays: number;
  /** Findings deleted per statement (each statement its own transaction). */
  batchSize: number;
  /** Wait for a prune running elsewhere (the command line) rather than leave the work to it (the background loop). */
  waitForLock: boolean;
  now: Date;
  /** Called after every batch, with the totals so far. */
  onProgress?: (progress: PruneProgress) => void;
}

export interface PruneProgress {
  reports: number;
  findings: number;
  rawCopies: number;
  rawBytes: number;
  /** The findings deleted by the last statement (≤ batchSize). */
  lastBatch: number;
}

export interface PruneOutcome extends Omit<PruneProgress, "lastBatch"> {
  /** False when another replica held the prune lock (nothing done: it is pruning). */
  ran: boolean;
  /** Findings deleted by each statement, in order (each ≤ batchSize). */
  batches: number[];
}

/**
 * History retention: deletes the findings and raw copies of reports that are no image's current report and were
 * received before the retention period, a few reports and `batchSize` findings per transaction so that no statement
 * holds locks for long and uploads and lookups go on meanwhile. Report rows stay (pruned_at set), and so do their
 * counts in the history rollups (only days rolled up are pruned: the run rolls up the closed days first). A run that stops
 * half-way (crash, shutdown) is finished by the next one.
 */
export async function pruneHistory(pool: Pool, options: PruneOptions, signal?: AbortSignal): Promise<PruneOutcome> {
  const cutoff = new Date(options.now.getTime() - options.olderThanDays * DAY_MS);
  const outcome: PruneOutcome = { ran: true, reports: 0, findings: 0, rawCopies: 0, rawBytes: 0, batches: [] };
  const progress = (lastBatch: number) => options.onProgress?.({ reports: outcome.reports, findings: outcome.findings, rawCopies: outcome.rawCopies, rawBytes: outcome.rawBytes, lastBatch });
  /** One short transaction under the prune lock; null when another session holds it. */
  const step = <T>(work: (tx: PoolClient) => Promise<T>): Promise<{ value: T } | null> =>
    inTransaction(pool, async (tx) => ((await lockPrune(tx, options.waitForLock)) ? { value: await work(tx) } : null));

  // Only days the history rollups have counted are pruned (markPrunableReports): count the closed ones first. When
  // another replica holds the rollup lock, what it has not rolled up yet waits for the next run.
  await rollUpHistory(pool, { now: options.now, ...(signal ? { signal } : {}) });
  let unfinished = await listUnfinishedPrunes(pool, REPORTS_PER_MARK);
  while (!signal?.aborted) {
    let ids = unfinished;
    unfinished = [];
    if (ids.length === 0) {
      const marked = await step((tx) => markPrunableReports(tx, cutoff, options.now, REPORTS_PER_MARK));
      if (!marked) return { ...outcome, ran: outcome.batches.length > 0 || outcome.reports > 0 };
      ids = marked.value;
      if (ids.length === 0) break;
      outcome.reports += ids.length;
    }
    for (;;) {
      if (signal?.aborted) return outcome;
      const deleted = await step((tx) => deletePrunedFindings(tx, ids, options.batchSize));
      if (!deleted) return outcome;
      if (deleted.value === 0) break;
      outcome.findings += deleted.value;
      outcome.batches.push(deleted.value);
      progress(deleted.value);
    }
    // The copy goes last: a pruned report that still has one is unfinished work for the next run.
    const raw = await step((tx) => deletePrunedRawCopies(tx, ids));
    if (!raw) return outcome;
    outcome.rawCopies += raw.value.copies;
    outcome.rawBytes += raw.value.bytes;
    progress(0);
  }
  return outcome;
}

/**
 * The background retention loop of a replica: every `intervalMs`, a prune run when no other replica is running one
 * (each batch's transaction-level advisory lock). Disabled when RETENTION_SUPERSEDED_DAYS is unset.
 */
export class HistoryPruner {
  private timer: NodeJS.Timeout | null = null;
  private first: NodeJS.Timeout | null = null;
  private running: Promise<PruneOutcome> | null = null;
  private readonly abort = new AbortController();

  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date,
    private readonly logger: Logger,
    private readonly settings: { olderThanDays: number; batchSize: number; intervalMs: number },
  ) {}

  start(): void {
    const tick = () => void this.run().catch((e: Error) => this.logger.warn({ err: e.message }, "history retention run failed"));
    this.timer ??= setInterval(tick, this.settings.intervalMs);
    this.timer.unref();
    // The first run soon after start, not at once: migrations and caches first.
    this.first ??= setTimeout(tick, Math.min(60_000, this.settings.intervalMs));
    this.first.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = null;
    this.first = null;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** One run (joined when one is in progress). */
  run(): Promise<PruneOutcome> {
    this.running ??= pruneHistory(this.pool, { olderThanDays: this.settings.olderThanDays, batchSize: this.settings.batchSize, waitForLock: false, now: this.clock() }, this.abort.signal)
      .then((outcome) => {
        if (outcome.reports > 0 || outcome.findings > 0)
          this.logger.info({ reports: outcome.reports, findings: outcome.findings, raw_copies: outcome.rawCopies, raw_bytes: outcome.rawBytes }, "history retention pruned superseded reports");
        return outcome;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
