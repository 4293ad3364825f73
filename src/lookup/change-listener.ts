import crypto from "node:crypto";
import { Client } from "pg";
import type { Logger } from "pino";
import {
  acknowledgeBarrier,
  LISTENER_APPLICATION_NAME,
  listenForChanges,
  POLICY_CHANNEL,
  sendBarrier,
  SYNC_ACK_CHANNEL,
  SYNC_CHANNEL,
  VERDICT_CHANNEL,
} from "../db/change-channels";
import type { PolicyCache } from "../policy/policy-cache";
import type { VerdictCache } from "./verdict-cache";

/** What a writer needs to make its change visible on every replica before it answers. */
export interface ChangePropagation {
  /** Resolves true once every listening replica has applied every change committed before the call; false on timeout. */
  awaitPropagation(timeoutMs?: number): Promise<boolean>;
}

interface PendingBarrier {
  expected: Set<number> | null;
  acked: Set<number>;
  resolve: (complete: boolean) => void;
}

/**
 * Keeps this replica's caches in step with every other replica through PostgreSQL LISTEN/NOTIFY. While the
 * connection is down nothing can be heard, so the caches are disabled and cleared on every (re)connect: a lost
 * notification never leaves a stale entry behind a reconnect.
 *
 * NOTIFY reaches each replica asynchronously, so "the upload returned" does not by itself mean "every replica has
 * dropped its cached verdict". awaitPropagation closes that gap: it commits a barrier NOTIFY after the change.
 * PostgreSQL delivers notifications in commit order, so a listener that sees the barrier has already applied the
 * change, and acknowledges it; the writer waits for the acknowledgement of every listener session that was
 * listening when the barrier committed (found by application_name in pg_stat_activity).
 */
export class ChangeListener implements ChangePropagation {
  private client: Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private connected = false;
  private backendPid: number | null = null;
  private readonly barriers = new Map<string, PendingBarrier>();

  constructor(
    private readonly url: string,
    private readonly verdicts: VerdictCache,
    private readonly policy: PolicyCache,
    private readonly logger: Logger,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  /** The listener's PostgreSQL backend pid while connected (tests terminate it to simulate a lost connection). */
  get pid(): number | null {
    return this.connected ? this.backendPid : null;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    for (const barrier of this.barriers.values()) barrier.resolve(false);
    this.barriers.clear();
    await client?.end().catch(() => undefined);
  }

  async awaitPropagation(timeoutMs = 2000): Promise<boolean> {
    const client = this.client;
    if (!client || !this.connected) return false;
    const id = crypto.randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      const barrier: PendingBarrier = { expected: null, acked: new Set(), resolve };
      this.barriers.set(id, barrier);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      // One statement: the barrier commits at its end, and the listener sessions are those listening at that time.
      const pids = await this.serially(() => sendBarrier(client, id));
      const barrier = this.barriers.get(id);
      if (barrier) {
        barrier.expected = new Set(pids);
        this.settle(id, barrier);
      }
      const complete = await done;
      if (!complete) this.logger.warn({ timeoutMs }, "not every replica acknowledged a verdict change in time; their caches expire within 30 s");
      return complete;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, "could not confirm that every replica saw a verdict change");
      return false;
    } finally {
      clearTimeout(timer);
      this.barriers.delete(id);
    }
  }

  /** One query at a time on the listener connection: pg deprecates overlapping queries on a client (gone in pg@9). */
  private queue: Promise<unknown> = Promise.resolve();
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private settle(id: string, barrier: PendingBarrier): void {
    if (!barrier.expected) return;
    for (const pid of barrier.expected) if (!barrier.acked.has(pid)) return;
    this.barriers.delete(id);
    barrier.resolve(true);
  }

  private onNotification(client: Client, channel: string, payload: string | undefined): void {
    if (channel === POLICY_CHANNEL) {
      this.policy.invalidate();
      this.verdicts.clear();
    } else if (channel === VERDICT_CHANNEL) {
      if (!payload || payload === "*") this.verdicts.clear();
      else this.verdicts.invalidate(payload.split(","));
    } else if (channel === SYNC_CHANNEL && payload) {
      // Everything committed before the barrier has been applied above (delivery is in commit order).
      this.serially(() => acknowledgeBarrier(client, payload, this.backendPid)).catch(() => undefined);
    } else if (channel === SYNC_ACK_CHANNEL && payload) {
      const colon = payload.lastIndexOf(":");
      const barrier = this.barriers.get(payload.slice(0, colon));
      if (barrier) {
        barrier.acked.add(Number(payload.slice(colon + 1)));
        this.settle(payload.slice(0, colon), barrier);
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.url, application_name: `${LISTENER_APPLICATION_NAME}-connecting`, keepAlive: true, connectionTimeoutMillis: 2000 });
    client.on("notification", (msg) => this.onNotification(client, msg.channel, msg.payload));
    const onLost = (error?: Error) => {
      if (this.client !== client) return;
      client.end().catch(() => undefined); // a lost connection is discarded; a new one is made below
      this.client = null;
      this.connected = false;
      this.verdicts.enabled = false;
      this.verdicts.clear();
      this.policy.invalidate();
      for (const barrier of this.barriers.values()) barrier.resolve(false);
      if (!this.stopped) {
        this.logger.warn({ err: error?.message }, "change listener lost its connection; caches cleared, reconnecting");
        this.scheduleReconnect();
      }
    };
    client.on("error", onLost);
    client.on("end", () => onLost());
    try {
      await client.connect();
      const pid = await listenForChanges(client);
      if (this.stopped) {
        // stop() ran while this connection was being set up: it must not be kept (it would hold the process open).
        await client.end().catch(() => undefined);
        return;
      }
      this.backendPid = pid;
      this.client = client;
      this.connected = true;
      this.verdicts.enabled = true;
      // Whatever changed while we were not listening is unknown: start from empty caches.
      this.verdicts.clear();
      this.policy.invalidate();
    } catch (error) {
      await client.end().catch(() => undefined);
      this.logger.warn({ err: (error as Error).message }, "change listener could not connect; retrying");
      this.verdicts.enabled = false;
      this.verdicts.clear();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, 1000);
    this.retryTimer.unref();
  }
}
