/**
 * Sends the informer's cache to the registry as full snapshots, one at a time.
 *
 * Why full snapshots and not per-Pod changes: the registry treats every POST /v1/inventory as the whole truth about
 * the cluster (containers absent from it are marked gone), so a snapshot is idempotent and self-healing. A lost or
 * failed request loses nothing (the next snapshot is complete), a registry restored from a backup is corrected by the
 * next one, and the agent never has to remember what it already told the registry.
 *
 * When:
 * - at once after every (re)list (`listed`) and on the periodic resync (`resync`, which also keeps last_seen_at
 *   current when nothing changes);
 * - after a change, within the coalescing window (`changed`, `debounceMs`): a rollout's burst of Pod events becomes
 *   one snapshot, sent at most `debounceMs` after the first event of the burst;
 * - after a failure (registry away, 5xx, timeout, a 4xx such as a revoked token): again after an exponential backoff,
 *   with the cache as it is then, so the snapshot after the registry is back is complete.
 * Nothing is sent while the cache is not current (the Kubernetes API is away): the registry keeps the last good state
 * rather than being told a stale one.
 */
import type { Logger } from "../logger";
import { unlessAborted, type Backoff } from "./backoff";
import type { PodListBody } from "./pod-projection";

export type SnapshotReason = "listed" | "changed" | "resync" | "retry";

export interface SnapshotPublisherOptions {
  debounceMs: number;
  backoff: Backoff;
}

export class SnapshotPublisher {
  private pending: { reason: SnapshotReason; dueAt: number } | undefined;
  private notBefore = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly source: () => PodListBody | undefined,
    private readonly send: (body: PodListBody, reason: SnapshotReason) => Promise<void>,
    private readonly options: SnapshotPublisherOptions,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {}

  /** Asks for a snapshot: at once for `listed`/`resync`, within the coalescing window for `changed`. */
  request(reason: Exclude<SnapshotReason, "retry">): void {
    const dueAt = Date.now() + (reason === "changed" ? this.options.debounceMs : 0);
    if (!this.pending) this.pending = { reason, dueAt };
    else if (dueAt < this.pending.dueAt) this.pending = { reason, dueAt };
    this.wake?.();
  }

  /** Runs until the signal aborts; never rejects. */
  async run(): Promise<void> {
    while (!this.signal.aborted) {
      if (!this.pending) {
        await this.idle();
        continue;
      }
      const wait = Math.max(this.pending.dueAt, this.notBefore) - Date.now();
      if (wait > 0) {
        await this.idle(wait);
        continue;
      }
      const { reason } = this.pending;
      this.pending = undefined;
      const body = this.source();
      if (!body) continue; // not current: the next (re)list asks again
      try {
        await unlessAborted(this.send(body, reason), this.signal);
        this.options.backoff.reset();
        this.notBefore = 0;
      } catch (error) {
        if (this.signal.aborted) break;
        const delay = this.options.backoff.next();
        this.notBefore = Date.now() + delay;
        this.pending ??= { reason: "retry", dueAt: this.notBefore };
        this.log.warn(
          { err: (error as Error).message, status: (error as { status?: number }).status, pods: body.items.length, failures: this.options.backoff.failures, retryInMs: delay },
          "could not send the snapshot to the registry; a complete one follows after a backoff",
        );
      }
    }
  }

  /** Waits for a request, or `ms`, or the signal. */
  private idle(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.wake = undefined;
        clearTimeout(timer);
        this.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.wake = done;
      this.signal.addEventListener("abort", done, { once: true });
    });
  }
}

