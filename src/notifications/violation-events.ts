import { anyRuleFor, insertViolationEvents } from "../db/notification-outbox-repository";
import type { Queryable } from "../db/queryable";
import { openIncidentsForViolations } from "../incidents/auto-incidents";

/**
 * runtime_violation.opened and .resolved, written from a reconciliation's result in the reconciling transaction
 * (src/runtime/reconcile-violations.ts): one statement for all of them, nothing at all when no rule subscribes; and
 * the incidents that rules with open_incident open for the violations with a CRITICAL (src/incidents/auto-incidents.ts).
 */
export async function recordViolationChanges(
  tx: Queryable,
  changes: { opened: ReadonlyArray<{ id: string }>; resolved: ReadonlyArray<{ id: string }> },
  now: Date,
): Promise<number> {
  const openedSubscribed = changes.opened.length > 0 && (await anyRuleFor(tx, "runtime_violation.opened"));
  const transitions = [
    ...(openedSubscribed ? changes.opened.map((v) => ({ violationId: v.id, eventType: "runtime_violation.opened" as const })) : []),
    ...(changes.resolved.length && (await anyRuleFor(tx, "runtime_violation.resolved")) ? changes.resolved.map((v) => ({ violationId: v.id, eventType: "runtime_violation.resolved" as const })) : []),
  ];
  // Rules that open incidents subscribe to runtime_violation.opened (the rule schema requires it).
  if (openedSubscribed) await openIncidentsForViolations(tx, changes.opened, now);
  return insertViolationEvents(tx, transitions, now);
}
