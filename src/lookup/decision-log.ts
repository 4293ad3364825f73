import type { Pool } from "pg";
import type { Logger } from "pino";
import { publishLookupAnswered } from "../observability/events";

export interface AdmissionDecisionRecord {
  decidedAt: Date;
  imageDigest: string | null;
  imageRef: string | null;
  namespace: string | null;
  isCompliant: boolean;
  status: string;
  reason: string | null;
  policyVersion: number | null;
  tokenId: string | null;
  tokenName: string | null;
}

const MAX_QUEUE = 100_000;
const MAX_TEXT = 1024;

/**
 * The admission decision log, written off the request path: lookups push to an in-memory queue that is flushed
 * every second with one INSERT … SELECT FROM unnest(…) per 5,000 rows. When the database is down the queue is
 * bounded (oldest dropped, counted) so lookups never slow down or run the process out of memory.
 */
export class DecisionLog {
  private queue: AdmissionDecisionRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  dropped = 0;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly flushIntervalMs = 1000,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  /** Queues an answered lookup and publishes it (src/observability/events.ts: metrics count answers by status). */
  record(decision: AdmissionDecisionRecord): void {
    publishLookupAnswered(decision);
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(decision);
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
      const batch = this.queue.splice(0, 5000);
      try {
        // Free text comes from the request (?namespace=, ?image=): PostgreSQL text cannot hold U+0000, and one such
        // row would fail this batch on every retry, so the log would stop recording.
        const cut = (s: string | null) => (s === null ? null : s.slice(0, MAX_TEXT).replace(/\u0000/g, "\uFFFD"));
        await this.pool.query(
          `INSERT INTO admission_decisions (decided_at, image_digest, image_ref, namespace, is_compliant, status, reason,
             policy_version, token_id, token_name)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[],
             $7::text[], $8::integer[], $9::uuid[], $10::text[])`,
          [
            batch.map((d) => d.decidedAt),
            batch.map((d) => d.imageDigest),
            batch.map((d) => cut(d.imageRef)),
            batch.map((d) => cut(d.namespace)),
            batch.map((d) => d.isCompliant),
            batch.map((d) => d.status),
            batch.map((d) => cut(d.reason)),
            batch.map((d) => d.policyVersion),
            batch.map((d) => d.tokenId),
            batch.map((d) => cut(d.tokenName)),
          ],
        );
      } catch (error) {
        // Put the batch back (bounded) and retry on the next tick.
        this.queue = batch.concat(this.queue).slice(-MAX_QUEUE);
        this.logger.warn({ err: (error as Error).message, queued: this.queue.length }, "decision log flush failed; will retry");
        return;
      }
    }
  }

  /** Deletes decisions older than the retention; returns how many. */
  async prune(retentionDays: number, now: Date): Promise<number> {
    const { rowCount } = await this.pool.query("DELETE FROM admission_decisions WHERE decided_at < $1::timestamptz - make_interval(days => $2)", [
      now,
      retentionDays,
    ]);
    return rowCount ?? 0;
  }
}
