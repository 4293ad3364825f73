import type { Pool } from "pg";
import type { Logger } from "pino";
import { hasDailySnapshot, takeDailySnapshot } from "../db/snapshot-repository";
import { rollUpHistory, type RollupOutcome } from "./history-rollups";

/** How often a replica checks whether today's (UTC) snapshot exists. */
const CHECK_INTERVAL_MS = 15 * 60_000;

/**
 * Takes the daily snapshot (daily_snapshots) for the overview's trends: at start when today's is missing, then
 * whenever a check finds the new UTC day without one. Every replica runs the loop; the snapshot's advisory lock and
 * primary key let exactly one of them write each day's row. The same loop rolls up the closed days of history
 * (src/reading/history-rollups.ts: a batch of days per transaction under the rollup lock, one replica at a time).
 */
export class DailySnapshotTaker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<boolean> | null = null;
  private rolling: Promise<RollupOutcome> | null = null;
  private readonly abort = new AbortController();

  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date,
    private readonly logger: Pick<Logger, "info" | "warn">,
    private readonly intervalMs = CHECK_INTERVAL_MS,
  ) {}

  start(): void {
    const tick = () =>
      void this.run()
        .catch((e: Error) => this.logger.warn({ err: e.message }, "daily snapshot failed"))
        .then(() => this.rollUp())
        .catch((e: Error) => this.logger.warn({ err: e.message }, "history rollup failed"));
    this.timer ??= setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.running?.catch(() => undefined);
    await this.rolling?.catch(() => undefined);
  }

  /** Rolls up the closed days after the watermark (joined when a run is in progress). */
  rollUp(): Promise<RollupOutcome> {
    this.rolling ??= rollUpHistory(this.pool, { now: this.clock(), signal: this.abort.signal })
      .then((outcome) => {
        if (outcome.batches.length > 0) this.logger.info({ rolled_up_through: outcome.through, batches: outcome.batches.length }, "history rolled up");
        return outcome;
      })
      .finally(() => {
        this.rolling = null;
      });
    return this.rolling;
  }

  /** Takes today's snapshot if it is missing (joined when a run is in progress); true when this replica wrote it. */
  run(): Promise<boolean> {
    this.running ??= (async () => {
      const now = this.clock();
      if (await hasDailySnapshot(this.pool, now)) return false;
      const taken = await takeDailySnapshot(this.pool, now);
      if (taken) this.logger.info({ day: now.toISOString().slice(0, 10) }, "daily snapshot taken");
      return taken;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
