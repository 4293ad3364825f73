import diagnostics_channel from "node:diagnostics_channel";

/**
 * Domain events that metrics count, published on Node's diagnostics channels so use cases need no metrics
 * dependency: publishing costs one property read while nobody subscribes. Channels are process-wide; the service
 * runs one app per process (tests that start several in one process see each other's events).
 */
export interface ReportIngestedEvent {
  format: string;
  findings: number;
  duplicate: boolean;
}

export interface ReevaluationEvent {
  scope: "all" | "digests" | "expired";
  seconds: number;
  evaluated: number;
}

/** An admission lookup was answered (every answer is recorded in the decision log). */
export interface LookupAnsweredEvent {
  status: string;
}

export const reportIngestedChannel = diagnostics_channel.channel("scan-registry:report-ingested");
export const reevaluationChannel = diagnostics_channel.channel("scan-registry:reevaluation");
export const lookupAnsweredChannel = diagnostics_channel.channel("scan-registry:lookup-answered");

export function publishReportIngested(event: ReportIngestedEvent): void {
  if (reportIngestedChannel.hasSubscribers) reportIngestedChannel.publish(event);
}

export function publishReevaluation(event: ReevaluationEvent): void {
  if (reevaluationChannel.hasSubscribers) reevaluationChannel.publish(event);
}

/** Called on the lookup path for every answer: the event is the decision record itself, so nothing is allocated. */
export function publishLookupAnswered(event: LookupAnsweredEvent): void {
  if (lookupAnsweredChannel.hasSubscribers) lookupAnsweredChannel.publish(event);
}

/** Attempts of one notification request, counted per event by outcome (src/notifications/deliverer.ts). */
export interface NotificationAttemptEvent {
  destinationType: string;
  delivered: number;
  retrying: number;
  failed: number;
}

export const notificationAttemptChannel = diagnostics_channel.channel("scan-registry:notification-attempt");

export function publishNotificationAttempt(event: NotificationAttemptEvent): void {
  if (notificationAttemptChannel.hasSubscribers) notificationAttemptChannel.publish(event);
}
