import type { Pool } from "pg";
import type { Logger } from "pino";
import { hasExpiredVerdicts } from "../db/image-scan-repository";
import { inTransaction, lockPolicyShared } from "../db/queryable";
import { announceExpiringExceptions } from "../notifications/exception-expiry";
import { reevaluateCounting } from "./policy-service";
import { NO_HOOKS, type TransactionHooks } from "./transaction-hooks";

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
    private readonly hooks: TransactionHooks = NO_HOOKS,
    private readonly intervalMs = 30_000,
    /** exception.expiring is written this many days before an exception expires (NOTIFY_EXCEPTION_EXPIRY_DAYS); 0 = never. */
    private readonly options: { exceptionExpiryDays?: number } = {},
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

  /** Announces exceptions about to expire, then re-evaluates every image whose verdict has run out; returns how many. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<number> {
    const now = this.clock();
    // Once per exception; a partial index makes "none due" one probe.
    const announced = await announceExpiringExceptions(this.pool, now, this.options.exceptionExpiryDays ?? 0);
    if (announced.exceptions > 0) this.logger.info({ exceptions: announced.exceptions, notifications: announced.jobs }, "announced exceptions about to expire");
    if (!(await hasExpiredVerdicts(this.pool, now))) return 0;
    const outcome = await inTransaction(this.pool, async (tx) => {
      await lockPolicyShared(tx);
      return reevaluateCounting(tx, { expiredAt: now }, now, { hooks: this.hooks, cause: "expiry" });
    });
    if (outcome.reevaluated > 0) this.logger.info({ evaluated: outcome.reevaluated, changed: outcome.changed }, "re-evaluated expired verdicts");
    return outcome.reevaluated;
  }
}
