import crypto from "node:crypto";
import { Client, type Pool } from "pg";
import type { Logger } from "pino";
import type { NotificationConfig } from "../config";
import {
  beginClaim,
  claimDueGroup,
  listenForNotifications,
  countEvents,
  loadEvents,
  nextDueAt,
  pruneNotifications,
  recordAttempt,
  type ClaimTransaction,
  type ClaimedGroup,
} from "../db/notification-delivery-repository";
import { findDestinationWithSecret } from "../db/notification-settings-repository";
import { retryDelayMs } from "../domain/notification";
import { publishNotificationAttempt } from "../observability/events";
import { GROUP_LIMIT, SLACK_DETAIL_LIMIT } from "./payloads";
import { sendMessage, type SendSettings } from "./send-message";

export interface DelivererDependencies {
  /** For LISTEN (a connection of its own). */
  databaseUrl: string;
  /**
   * The deliverer's own pool (NOTIFICATION_CONCURRENCY + 1 connections): each send in flight holds one connection
   * with its claimed jobs locked, so a slow receiver can never take a connection that ingest or lookups need.
   */
  pool: Pool;
  clock: () => Date;
  logger: Logger;
  config: NotificationConfig;
  send: SendSettings;
  random?: () => number;
}

/**
 * Delivers pending notifications, on every replica at once without sending anything twice:
 *
 * - A claim is a transaction: `SELECT … FOR UPDATE SKIP LOCKED` takes the oldest due job and the other due jobs of
 *   the same change for the same destination, the transaction stays open while the message is sent, and the outcome
 *   (delivered, or the next attempt with exponential backoff and jitter, or failed after NOTIFICATION_RETRY_HOURS)
 *   commits with one notification_deliveries row per job. Another replica skips locked jobs and takes the next.
 *   If this process dies mid-send its session ends, the locks go, and another replica (or this one restarted)
 *   sends again: delivery is at least once, and receivers deduplicate by event id.
 * - Own loop over own tables rather than a job-queue library: pg-boss needs Node 22; graphile-worker would keep its
 *   jobs in its own schema, away from the events an analyst joins to, and could not claim "every due job of this
 *   change for this destination" as one message — which is what turns 50,000 verdict flips into one Slack message.
 * - Woken by NOTIFY (queued by the change's transaction, so heard after it commits), by a timer for the next retry,
 *   and by a poll every NOTIFICATION_POLL_INTERVAL_MS for anything missed.
 * - Bounded: NOTIFICATION_CONCURRENCY sends in flight, NOTIFICATION_CONCURRENCY_PER_DESTINATION per destination (a
 *   destination at its limit is skipped by the claim, so one hanging receiver never holds up the others), and every
 *   attempt ends within NOTIFICATION_TIMEOUT_MS.
 */
export class NotificationDeliverer {
  private stopped = true;
  private pumping = false;
  private again = false;
  private inFlight = 0;
  private readonly perDestination = new Map<string, number>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private pollTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = Infinity;
  private listener: Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly random: () => number;

  constructor(private readonly deps: DelivererDependencies) {
    this.random = deps.random ?? Math.random;
  }

  /** Starts listening and delivering (when NOTIFICATION_DELIVERY_ENABLED); pruning runs on every replica. */
  async start(): Promise<void> {
    this.stopped = false;
    this.pruneTimer = setInterval(() => void this.prune().catch(() => undefined), 3_600_000);
    this.pruneTimer.unref();
    if (!this.deps.config.deliveryEnabled) return;
    await this.listen();
    this.pollTimer = setInterval(() => this.wake(), this.deps.config.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /** Stops claiming, aborts sends in flight (their jobs stay pending, for another replica or the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.pollTimer, this.pruneTimer, this.reconnectTimer]) if (timer) clearInterval(timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort.abort();
    await Promise.allSettled([...this.tasks]);
    while (this.pumping) await new Promise((r) => setTimeout(r, 10));
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.deps.pool.end().catch(() => undefined);
  }

  /** Look for due work now (idempotent; a pass in progress runs once more). */
  wake(): void {
    if (this.stopped || !this.deps.config.deliveryEnabled) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump()
      .catch((error: Error) => this.deps.logger.warn({ err: error.message }, "notification delivery pass failed; retrying at the next poll"))
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves once nothing is being sent or claimed (tests wait for it). */
  async idle(): Promise<void> {
    while (this.pumping || this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** Deletes attempts and finished events older than NOTIFICATION_RETENTION_DAYS. */
  async prune(): Promise<{ deliveries: number; events: number }> {
    const before = new Date(this.deps.clock().getTime() - this.deps.config.retentionDays * 86_400_000);
    return pruneNotifications(this.deps.pool, before);
  }

  private async pump(): Promise<void> {
    while (!this.stopped && this.inFlight < this.deps.config.concurrency) {
      if (!(await this.claimOne())) return;
    }
  }

  private busyDestinations(): string[] {
    const limit = this.deps.config.concurrencyPerDestination;
    return [...this.perDestination].filter(([, n]) => n >= limit).map(([id]) => id);
  }

  /** Claims one group and starts sending it; false when nothing is due (or the claim failed). */
  private async claimOne(): Promise<boolean> {
    const claim = await beginClaim(this.deps.pool);
    let group: ClaimedGroup | null;
    try {
      group = await claimDueGroup(claim.tx, this.deps.clock(), this.busyDestinations(), (type) => GROUP_LIMIT[type]);
    } catch (error) {
      await claim.end("rollback", error as Error);
      throw error;
    }
    if (!group || group.jobs.length === 0) {
      await claim.end("rollback");
      if (!group) await this.scheduleNextDue();
      return false;
    }
    this.inFlight++;
    const destinationId = group.destinationId;
    this.perDestination.set(destinationId, (this.perDestination.get(destinationId) ?? 0) + 1);
    const task: Promise<void> = this.deliver(claim, group)
      .catch((error: Error) => this.deps.logger.warn({ err: error.message, destination: destinationId }, "notification delivery failed to record; it will be retried"))
      .finally(() => {
        this.inFlight--;
        const left = (this.perDestination.get(destinationId) ?? 1) - 1;
        if (left <= 0) this.perDestination.delete(destinationId);
        else this.perDestination.set(destinationId, left);
        this.tasks.delete(task);
        this.wake();
      });
    this.tasks.add(task);
    return true;
  }

  private async deliver(claim: ClaimTransaction, group: ClaimedGroup): Promise<void> {
    const client = claim.tx;
    try {
      const destination = await findDestinationWithSecret(client, group.destinationId);
      if (!destination) return; // deleted meanwhile: its jobs go with it
      const eventIds = group.jobs.map((j) => j.eventId);
      const slack = destination.type === "slack";
      const events = await loadEvents(client, eventIds, slack ? SLACK_DETAIL_LIMIT : eventIds.length);
      const counts = slack && eventIds.length > 1 ? await countEvents(client, eventIds) : [];
      const requestId = crypto.randomUUID();
      const startedAt = this.deps.clock();
      const { result, durationMs } = await sendMessage(destination, { requestId, events, total: eventIds.length, counts }, this.deps.send, startedAt, this.abort.signal);
      if (!result.ok && result.aborted) return; // stopping: not the receiver's fault; the jobs stay as they were
      const attempts = Math.max(...group.jobs.map((j) => j.attempts)) + 1;
      const { retryInitialMs, retryMaxMs, retryForMs } = this.deps.config;
      const nextAttemptAt = new Date(this.deps.clock().getTime() + retryDelayMs(attempts, retryInitialMs, retryMaxMs, this.random()));
      const statuses = await recordAttempt(
        client,
        group.jobs.map((j) => j.id),
        {
          requestId,
          destinationType: destination.type,
          startedAt,
          durationMs,
          ok: result.ok,
          responseStatus: result.status,
          error: result.ok ? null : result.error,
          nextAttemptAt,
          retryForMs,
        },
      );
      await claim.end("commit");
      publishNotificationAttempt({ destinationType: destination.type, ...statuses });
      if (!result.ok) {
        this.deps.logger.info(
          { destination: destination.id, name: destination.name, events: eventIds.length, attempt: attempts, status: result.status, err: result.error, retrying: statuses.retrying, failed: statuses.failed },
          "notification not delivered",
        );
        if (statuses.retrying > 0) this.scheduleWake(nextAttemptAt);
      } else {
        this.deps.logger.debug({ destination: destination.id, events: eventIds.length, status: result.status, durationMs }, "notification delivered");
      }
    } finally {
      await claim.end("rollback"); // nothing once committed
    }
  }

  /** Wakes at `at` (the service clock's time) unless an earlier wake is already set. */
  private scheduleWake(at: Date): void {
    if (this.stopped || at.getTime() >= this.retryAt) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at.getTime();
    const delay = Math.max(0, at.getTime() - this.deps.clock().getTime());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = Infinity;
      this.wake();
    }, Math.min(delay, 2_147_000_000));
    this.retryTimer.unref();
  }

  /** Nothing due now: wake when the next pending job falls due (if sooner than the next poll). */
  private async scheduleNextDue(): Promise<void> {
    const at = await nextDueAt(this.deps.pool).catch(() => null);
    if (at && at.getTime() - this.deps.clock().getTime() < this.deps.config.pollIntervalMs) this.scheduleWake(at);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.deps.databaseUrl, application_name: "scan-registry-notifications", keepAlive: true, connectionTimeoutMillis: 2000 });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = null;
      if (!this.stopped) {
        this.reconnectTimer = setTimeout(() => void this.listen(), 1000);
        this.reconnectTimer.unref();
      }
    };
    client.on("notification", () => this.wake());
    client.on("error", lost);
    client.on("end", lost);
    try {
      await client.connect();
      await listenForNotifications(client);
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
      this.wake(); // anything committed while not listening
    } catch (error) {
      await client.end().catch(() => undefined);
      this.deps.logger.warn({ err: (error as Error).message }, "notification listener could not connect; polling meanwhile, retrying");
      this.reconnectTimer = setTimeout(() => void this.listen(), 1000);
      this.reconnectTimer.unref();
    }
  }
}
