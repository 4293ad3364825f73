import { z } from "zod";
import type { Severity } from "./severity";

/** Every event a rule can subscribe to (PRODUCT.md "Notifications"). */
export const NOTIFICATION_EVENT_TYPES = [
  "verdict.changed",
  "runtime_violation.opened",
  "runtime_violation.resolved",
  "exception.expiring",
] as const;
const notificationEventTypeSchema = z.enum(NOTIFICATION_EVENT_TYPES);
export type NotificationEventType = z.infer<typeof notificationEventTypeSchema>;

export const DESTINATION_TYPES = ["webhook", "slack", "cloudevents"] as const;
const destinationTypeSchema = z.enum(DESTINATION_TYPES);
export type DestinationType = z.infer<typeof destinationTypeSchema>;

/** What made a verdict flip: a new report, a policy change, an exception granted or withdrawn, or time passing. */
const VERDICT_CHANGE_CAUSES = ["report", "policy", "exception", "expiry", "scan_age"] as const;
export type VerdictChangeCause = (typeof VERDICT_CHANGE_CAUSES)[number];

/** State of one event for one destination. */
const JOB_STATUSES = ["pending", "delivered", "failed"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Outcome of one delivery attempt: delivered (2xx), retrying (failed, another attempt scheduled), failed (gave up). */
export const ATTEMPT_STATUSES = ["delivered", "retrying", "failed"] as const;
const attemptStatusSchema = z.enum(ATTEMPT_STATUSES);
export type AttemptStatus = z.infer<typeof attemptStatusSchema>;

/** event_type of a test send (POST /v1/notifications/destinations/{id}/test) in notification_deliveries. */
export const TEST_EVENT_TYPE = "test" as const;

/** A stored destination without its secret: what every reader outside the delivery path gets. */
export interface NotificationDestination {
  id: string;
  name: string;
  type: DestinationType;
  url: string;
  hasSecret: boolean;
  createdAt: Date;
  createdBy: string | null;
}

/** The destination as the sender needs it, with its secret. Only the delivery path and the test send load it. */
export interface DestinationWithSecret extends NotificationDestination {
  secret: string | null;
}

export interface NotificationRule {
  id: string;
  name: string;
  destinationId: string;
  destinationName: string;
  destinationType: DestinationType;
  events: NotificationEventType[];
  repository: string | null;
  cluster: string | null;
  namespace: string | null;
  minSeverity: Severity | null;
  /** Also opens an incident per vulnerability and cluster when a matched violation with a CRITICAL opens. */
  openIncident: boolean;
  createdAt: Date;
  createdBy: string | null;
}

/** An event as the payload formatters see it. `data` is notification_events.payload. */
export interface OutboxEvent {
  id: string;
  type: NotificationEventType | typeof TEST_EVENT_TYPE;
  occurredAt: Date;
  subject: string;
  severity: Severity | null;
  data: Record<string, unknown>;
}

/** One recorded delivery attempt (a row of notification_deliveries). */
export interface DeliveryAttempt {
  id: string;
  at: Date;
  eventId: string | null;
  eventType: string;
  destinationId: string;
  destinationType: string;
  requestId: string;
  attempt: number;
  status: AttemptStatus;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Delay before attempt `attempt + 1` after `attempt` failures: exponential from `initialMs`, capped at `maxMs`, with
 * "equal jitter" (between half and all of it), so receivers coming back are not hit by every sender at once.
 */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number, random: number): number {
  const exponential = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(exponential / 2 + (exponential / 2) * Math.min(Math.max(random, 0), 1));
}
