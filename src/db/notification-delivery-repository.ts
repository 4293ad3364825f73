/**
 * Delivery state: claiming due jobs, recording attempts, the deliveries list. Raw SQL: claiming is
 * `FOR UPDATE SKIP LOCKED` inside a transaction the deliverer holds open while it sends, so a job is in the hands of
 * one replica at a time, and a replica that dies mid-send (SIGKILL, lost connection) releases it with its session.
 */
import type { AttemptStatus, DeliveryAttempt, DestinationType, NotificationEventType, OutboxEvent } from "../domain/notification";
import type { Severity } from "../domain/severity";
import type { Client, Pool } from "pg";
import { decodeIdCursor, encodeIdCursor } from "../domain/cursor";
import { NOTIFICATION_CHANNEL } from "./notification-outbox-repository";
import type { Queryable } from "./queryable";


export interface ClaimedJob {
  id: string;
  eventId: string;
  attempts: number;
}

export interface ClaimedGroup {
  destinationId: string;
  destinationType: DestinationType;
  changeId: string;
  jobs: ClaimedJob[];
}

/**
 * Claims the oldest due job whose destination is not in `busy`, then every other due job of the same change for the
 * same destination (up to the destination type's limit), all locked until the caller's transaction ends. Jobs
 * another replica holds are skipped, never waited for. Null when nothing is due.
 */
export async function claimDueGroup(
  tx: Queryable,
  now: Date,
  busy: readonly string[],
  limitFor: (type: DestinationType) => number,
): Promise<ClaimedGroup | null> {
  const first = await tx.query<{ id: string; destination_id: string; change_id: string; type: DestinationType }>(
    `SELECT j.id::text AS id, j.destination_id, j.change_id, d.type
     FROM notification_jobs j JOIN notification_destinations d ON d.id = j.destination_id
     WHERE j.status = 'pending' AND j.next_attempt_at <= $1 AND NOT (j.destination_id = ANY($2::uuid[]))
     ORDER BY j.next_attempt_at, j.id
     LIMIT 1
     FOR UPDATE OF j SKIP LOCKED`,
    [now, busy],
  );
  const head = first.rows[0];
  if (!head) return null;
  const group = await tx.query<{ id: string; event_id: string; attempts: number }>(
    `SELECT j.id::text AS id, j.event_id, j.attempts FROM notification_jobs j
     WHERE j.destination_id = $1 AND j.change_id = $2 AND j.status = 'pending' AND j.next_attempt_at <= $3
     ORDER BY (j.id = $4::bigint) DESC, j.id
     LIMIT $5
     FOR UPDATE SKIP LOCKED`,
    [head.destination_id, head.change_id, now, head.id, limitFor(head.type)],
  );
  return {
    destinationId: head.destination_id,
    destinationType: head.type,
    changeId: head.change_id,
    jobs: group.rows.map((r) => ({ id: r.id, eventId: r.event_id, attempts: r.attempts })),
  };
}

interface EventRow {
  id: string;
  event_type: NotificationEventType;
  occurred_at: Date;
  subject: string;
  severity: Severity | null;
  payload: Record<string, unknown>;
}

/** The first `limit` events (in the order they happened) of the given IDs, with their data. */
export async function loadEvents(q: Queryable, eventIds: readonly string[], limit: number): Promise<OutboxEvent[]> {
  const { rows } = await q.query<EventRow>(
    `SELECT id, event_type, occurred_at, subject, severity, payload FROM notification_events
     WHERE id = ANY($1::uuid[]) ORDER BY occurred_at, id LIMIT $2`,
    [eventIds, limit],
  );
  return rows.map((r) => ({ id: r.id, type: r.event_type, occurredAt: r.occurred_at, subject: r.subject, severity: r.severity, data: r.payload }));
}

/** How many of the given events there are by type and, for verdict.changed, by the verdict after ("true"/"false"). */
export async function countEvents(q: Queryable, eventIds: readonly string[]): Promise<Array<{ type: string; outcome: string | null; n: number }>> {
  const { rows } = await q.query<{ type: string; outcome: string | null; n: number }>(
    `SELECT event_type AS type, CASE WHEN event_type = 'verdict.changed' THEN payload->'after'->>'is_compliant' END AS outcome, count(*)::int AS n
     FROM notification_events WHERE id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2`,
    [eventIds],
  );
  return rows;
}

export interface AttemptOutcome {
  requestId: string;
  destinationType: DestinationType;
  startedAt: Date;
  durationMs: number;
  ok: boolean;
  responseStatus: number | null;
  error: string | null;
  /** When to try again after a failure; a job whose event is older than `retryForMs` by then fails instead. */
  nextAttemptAt: Date;
  retryForMs: number;
}

/**
 * Records one attempt for every job of a claimed group: the job's new state, and one notification_deliveries row
 * per job, in one statement. Answers how many jobs ended in each attempt status.
 */
export async function recordAttempt(tx: Queryable, jobIds: readonly string[], outcome: AttemptOutcome): Promise<Record<AttemptStatus, number>> {
  const { rows } = await tx.query<{ status: AttemptStatus; n: number }>(
    `WITH updated AS (
       UPDATE notification_jobs j SET
         attempts = j.attempts + 1,
         last_attempt_at = $2,
         status = CASE WHEN $3 THEN 'delivered' WHEN j.created_at + $7 * interval '1 millisecond' < $6 THEN 'failed' ELSE 'pending' END,
         next_attempt_at = CASE WHEN $3 THEN j.next_attempt_at ELSE $6 END,
         last_error = CASE WHEN $3 THEN NULL ELSE $5 END
       WHERE j.id = ANY($1::bigint[]) AND j.status = 'pending'
       RETURNING j.event_id, j.destination_id, j.attempts, j.status),
     recorded AS (
       INSERT INTO notification_deliveries (at, event_id, event_type, destination_id, destination_type, request_id, attempt, status,
         response_status, error, duration_ms)
       SELECT $2, u.event_id, e.event_type, u.destination_id, $8, $9, u.attempts,
         CASE u.status WHEN 'delivered' THEN 'delivered' WHEN 'failed' THEN 'failed' ELSE 'retrying' END, $4, $5, $10
       FROM updated u JOIN notification_events e ON e.id = u.event_id
       RETURNING status)
     SELECT status, count(*)::int AS n FROM recorded GROUP BY status`,
    [
      jobIds,
      outcome.startedAt,
      outcome.ok,
      outcome.responseStatus,
      outcome.ok ? null : (outcome.error ?? "failed"),
      outcome.nextAttemptAt,
      outcome.retryForMs,
      outcome.destinationType,
      outcome.requestId,
      outcome.durationMs,
    ],
  );
  const counts: Record<AttemptStatus, number> = { delivered: 0, retrying: 0, failed: 0 };
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** Records a test send (no event, no job). */
export async function recordTestAttempt(
  q: Queryable,
  attempt: { destinationId: string; destinationType: DestinationType; requestId: string; startedAt: Date; durationMs: number; ok: boolean; responseStatus: number | null; error: string | null },
): Promise<void> {
  await q.query(
    `INSERT INTO notification_deliveries (at, event_id, event_type, destination_id, destination_type, request_id, attempt, status, response_status, error, duration_ms)
     VALUES ($1, NULL, 'test', $2, $3, $4, 1, $5, $6, $7, $8)`,
    [attempt.startedAt, attempt.destinationId, attempt.destinationType, attempt.requestId, attempt.ok ? "delivered" : "failed", attempt.responseStatus, attempt.ok ? null : attempt.error, attempt.durationMs],
  );
}

/** When the next pending job falls due (to wake up for it), or null. */
export async function nextDueAt(q: Queryable): Promise<Date | null> {
  const { rows } = await q.query<{ at: Date | null }>("SELECT min(next_attempt_at) AS at FROM notification_jobs WHERE status = 'pending'");
  return rows[0]?.at ?? null;
}

/** When the oldest undelivered event was written (the age gauge), or null when nothing is pending. */
export async function oldestPendingCreatedAt(q: Queryable): Promise<Date | null> {
  const { rows } = await q.query<{ at: Date | null }>("SELECT min(created_at) AS at FROM notification_jobs WHERE status = 'pending'");
  return rows[0]?.at ?? null;
}

/** Deletes attempts, and events no longer pending anywhere, older than `before`. */
export async function pruneNotifications(q: Queryable, before: Date): Promise<{ deliveries: number; events: number }> {
  const deliveries = await q.query("DELETE FROM notification_deliveries WHERE at < $1", [before]);
  const events = await q.query(
    `DELETE FROM notification_events e WHERE e.occurred_at < $1
       AND NOT EXISTS (SELECT 1 FROM notification_jobs j WHERE j.event_id = e.id AND j.status = 'pending')`,
    [before],
  );
  return { deliveries: deliveries.rowCount ?? 0, events: events.rowCount ?? 0 };
}

export interface DeliveryFilter {
  destinationId?: string | undefined;
  eventId?: string | undefined;
  eventType?: string | undefined;
  status?: AttemptStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

interface DeliveryRow {
  id: string;
  at: Date;
  event_id: string | null;
  event_type: string;
  destination_id: string;
  destination_type: string;
  request_id: string;
  attempt: number;
  status: AttemptStatus;
  response_status: number | null;
  error: string | null;
  duration_ms: number;
}

/** One page of attempts, newest first (in the order they were recorded). */
export async function listDeliveries(q: Queryable, filter: DeliveryFilter): Promise<{ items: DeliveryAttempt[]; nextCursor: string | null }> {
  const { rows } = await q.query<DeliveryRow>(
    `SELECT id::text AS id, at, event_id, event_type, destination_id, destination_type, request_id, attempt, status,
       response_status, error, duration_ms
     FROM notification_deliveries
     WHERE ($1::bigint IS NULL OR id < $1)
       AND ($2::uuid IS NULL OR destination_id = $2)
       AND ($3::uuid IS NULL OR event_id = $3)
       AND ($4::text IS NULL OR event_type = $4)
       AND ($5::text IS NULL OR status = $5)
     -- The table's id, not the text alias of the select list: text order would put 99 after 100.
     ORDER BY notification_deliveries.id DESC LIMIT $6`,
    [filter.cursor === undefined ? null : decodeIdCursor("n", filter.cursor), filter.destinationId ?? null, filter.eventId ?? null, filter.eventType ?? null, filter.status ?? null, filter.limit + 1],
  );
  const more = rows.length > filter.limit;
  const page = more ? rows.slice(0, filter.limit) : rows;
  return {
    items: page.map((r) => ({
      id: r.id,
      at: r.at,
      eventId: r.event_id,
      eventType: r.event_type,
      destinationId: r.destination_id,
      destinationType: r.destination_type,
      requestId: r.request_id,
      attempt: r.attempt,
      status: r.status,
      responseStatus: r.response_status,
      error: r.error,
      durationMs: r.duration_ms,
    })),
    nextCursor: more ? encodeIdCursor("n", page[page.length - 1]!.id) : null,
  };
}

/**
 * A claim's transaction, held open while its message is sent. `end` commits (the outcome was recorded) or rolls
 * back (nothing recorded: the jobs are as they were), and returns the connection — discarding it when the
 * connection broke, so a half-finished transaction never goes back to the pool.
 */
export interface ClaimTransaction {
  tx: Queryable;
  end(outcome: "commit" | "rollback", error?: Error): Promise<void>;
}

export async function beginClaim(pool: Pool): Promise<ClaimTransaction> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
  let ended = false;
  return {
    tx: client,
    async end(outcome, error) {
      if (ended) return;
      ended = true;
      let broken: Error | undefined = error;
      await client.query(outcome === "commit" ? "COMMIT" : "ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      client.release(broken);
      if (outcome === "commit" && broken && broken !== error) throw broken;
    },
  };
}

/** Subscribes a dedicated connection to the NOTIFY that each change writing jobs queues (heard after its commit). */
export async function listenForNotifications(client: Pick<Client, "query">): Promise<void> {
  await client.query(`LISTEN ${NOTIFICATION_CHANNEL}`);
}
