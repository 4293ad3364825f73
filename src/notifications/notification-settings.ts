import crypto from "node:crypto";
import type { Pool } from "pg";
import { listDeliveries, recordTestAttempt, type DeliveryFilter } from "../db/notification-delivery-repository";
import {
  deleteDestination,
  deleteRule,
  findDestinationWithSecret,
  insertDestination,
  insertRule,
  listDestinations,
  listRules,
  type NewDestination,
  type NewRule,
} from "../db/notification-settings-repository";
import { conflict, invalid, notFound } from "../domain/errors";
import { TEST_EVENT_TYPE, type DeliveryAttempt, type NotificationDestination, type NotificationRule } from "../domain/notification";
import { checkAddress, literalAddress } from "./address-policy";
import { sendMessage, type SendSettings } from "./send-message";

export interface TestResult {
  delivered: boolean;
  requestId: string;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Destinations, rules and the deliveries log: the use cases behind /v1/notifications, the CLI and the dashboard's
 * settings page. A destination's secret goes in once and never comes out (no reader returns it).
 */
export class NotificationSettings {
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date,
    private readonly send: SendSettings,
  ) {}

  /** Refuses an address written into the URL that could never be sent to; names are checked at every send. */
  async createDestination(input: Omit<NewDestination, "createdBy">, createdBy: string | null): Promise<NotificationDestination> {
    const literal = literalAddress(new URL(input.url).hostname);
    if (literal) {
      const verdict = checkAddress(literal, this.send.allowPrivateNetworks);
      if (!verdict.allowed) throw invalid("invalid_request", "The request body is invalid.", [{ path: "body.url", message: `address refused: ${verdict.reason}` }]);
    }
    const stored = await insertDestination(this.pool, { ...input, createdBy }, this.clock());
    if (!stored) throw conflict("destination_name_taken", `A destination named ${JSON.stringify(input.name)} exists already; choose another name or delete it first.`);
    return stored;
  }

  listDestinations(): Promise<NotificationDestination[]> {
    return listDestinations(this.pool);
  }

  /** Deletes it with its rules and undelivered jobs; recorded attempts stay. */
  async deleteDestination(id: string): Promise<NotificationDestination> {
    const gone = await deleteDestination(this.pool, id);
    if (!gone) throw notFound("destination_not_found", `No notification destination ${id}.`);
    return gone;
  }

  /** Sends a test message now (bounded by NOTIFICATION_TIMEOUT_MS), records the attempt, and says how it went. */
  async testDestination(id: string): Promise<TestResult> {
    const destination = await findDestinationWithSecret(this.pool, id);
    if (!destination) throw notFound("destination_not_found", `No notification destination ${id}.`);
    const now = this.clock();
    const requestId = crypto.randomUUID();
    const event = {
      id: crypto.randomUUID(),
      type: TEST_EVENT_TYPE,
      occurredAt: now,
      subject: destination.id,
      severity: null,
      data: { message: "Test message from scan-registry: this destination receives its notifications.", destination: { id: destination.id, name: destination.name } },
    };
    const { result, durationMs } = await sendMessage(destination, { requestId, events: [event], total: 1, counts: [{ type: TEST_EVENT_TYPE, outcome: null, n: 1 }] }, this.send, now);
    const outcome: TestResult = {
      delivered: result.ok,
      requestId,
      responseStatus: result.status,
      error: result.ok ? null : result.error,
      durationMs,
    };
    await recordTestAttempt(this.pool, {
      destinationId: destination.id,
      destinationType: destination.type,
      requestId,
      startedAt: now,
      durationMs,
      ok: outcome.delivered,
      responseStatus: outcome.responseStatus,
      error: outcome.error,
    });
    return outcome;
  }

  async createRule(input: Omit<NewRule, "createdBy">, createdBy: string | null): Promise<NotificationRule> {
    const stored = await insertRule(this.pool, { ...input, createdBy }, this.clock());
    if (!stored)
      throw invalid("invalid_request", "The request body is invalid.", [{ path: "body.destination_id", message: `no notification destination ${input.destinationId}` }]);
    return stored;
  }

  listRules(): Promise<NotificationRule[]> {
    return listRules(this.pool);
  }

  async deleteRule(id: string): Promise<NotificationRule> {
    const gone = await deleteRule(this.pool, id);
    if (!gone) throw notFound("rule_not_found", `No notification rule ${id}.`);
    return gone;
  }

  listDeliveries(filter: DeliveryFilter): Promise<{ items: DeliveryAttempt[]; nextCursor: string | null }> {
    return listDeliveries(this.pool, filter);
  }
}
