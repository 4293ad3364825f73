import type { Pool } from "pg";
import type { Logger } from "pino";
import { insertDecisions, pruneDecisions, type AdmissionDecisionRecord } from "../db/decision-repository";
import { publishLookupAnswered } from "../observability/events";
import { BoundedQueue } from "./bounded-queue";

export type { AdmissionDecisionRecord } from "../db/decision-repository";

const MAX_QUEUE = 100_000;

/**
 * The admission decision log, written off the request path: lookups push to an in-memory queue that is flushed
 * every second with one INSERT … SELECT FROM unnest(…) per 5,000 rows. When the database is down the queue is
 * bounded (oldest dropped, counted) so lookups never slow down or run the process out of memory.
 */
export class DecisionLog {
  private readonly queue: BoundedQueue<AdmissionDecisionRecord>;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Decisions dropped unwritten because the queue was full (scan_registry_decision_log_dropped_total). */
  dropped = 0;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly flushIntervalMs = 1000,
    capacity = MAX_QUEUE,
  ) {
    this.queue = new BoundedQueue(capacity);
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Queues an answered lookup and publishes it (src/observability/events.ts: metrics count answers by status). */
  record(decision: AdmissionDecisionRecord): void {
    publishLookupAnswered(decision);
    if (this.queue.push(decision)) this.dropped++;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Writes everything queued so far; concurrent calls share one flush. */
  flush(): Promise<void> {
    this.flushing ??= this.writeQueued().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async writeQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.take(5000);
      try {
        await insertDecisions(this.pool, batch);
      } catch (error) {
        // Put the batch back (bounded) and retry on the next tick.
        this.dropped += this.queue.putBack(batch);
        this.logger.warn({ err: (error as Error).message, queued: this.queue.length }, "decision log flush failed; will retry");
        return;
      }
    }
  }

  /** Deletes decisions older than the retention; returns how many. */
  async prune(retentionDays: number, now: Date): Promise<number> {
    return pruneDecisions(this.pool, retentionDays, now);
  }
}
