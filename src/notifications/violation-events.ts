import { anyRuleFor, insertViolationEvents } from "../db/notification-outbox-repository";
import type { Queryable } from "../db/queryable";

/**
 * runtime_violation.opened and .resolved, written from a reconciliation's result in the reconciling transaction
 * (src/runtime/reconcile-violations.ts): one statement for all of them, nothing at all when no rule subscribes.
 */
export async function recordViolationChanges(
  tx: Queryable,
  changes: { opened: ReadonlyArray<{ id: string }>; resolved: ReadonlyArray<{ id: string }> },
  now: Date,
): Promise<number> {
  const transitions = [
    ...(changes.opened.length && (await anyRuleFor(tx, "runtime_violation.opened")) ? changes.opened.map((v) => ({ violationId: v.id, eventType: "runtime_violation.opened" as const })) : []),
    ...(changes.resolved.length && (await anyRuleFor(tx, "runtime_violation.resolved")) ? changes.resolved.map((v) => ({ violationId: v.id, eventType: "runtime_violation.resolved" as const })) : []),
  ];
  return insertViolationEvents(tx, transitions, now);
}
