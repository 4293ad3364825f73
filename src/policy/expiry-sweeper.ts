import type { Pool } from "pg";
import type { Logger } from "pino";
import { inTransaction, POLICY_LOCK_ID } from "../db/queryable";
import { loadActivePolicy, loadExceptionsInForce } from "./policy-repository";
import { reevaluateImages } from "./reevaluate";

/**
 * Time changes verdicts (an exception expires, a scan passes max_scan_age_days). Lookups already re-evaluate such
 * an image on the spot; this sweep brings image_scans up to date for SQL readers, every `intervalMs` (≤ 60 s).
 * Rows are selected by the valid_until index, so a sweep with nothing due costs one index probe.
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date,
    private readonly logger: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep().catch((e: Error) => this.logger.warn({ err: e.message }, "expiry sweep failed")), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Re-evaluates every image whose verdict has run out; returns how many. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<number> {
    const now = this.clock();
    const due = await this.pool.query("SELECT 1 FROM image_scans WHERE valid_until <= $1 LIMIT 1", [now]);
    if (due.rowCount === 0) return 0;
    const result = await inTransaction(this.pool, async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock_shared($1)", [POLICY_LOCK_ID]);
      const policy = await loadActivePolicy(tx);
      return reevaluateImages(tx, { expiredAt: now }, policy, await loadExceptionsInForce(tx, now), now);
    });
    if (result.evaluated > 0) this.logger.info({ evaluated: result.evaluated, changed: result.changed.length }, "re-evaluated expired verdicts");
    return result.evaluated;
  }
}
