/**
 * The one place where runtime violations change. Every use case that changes what runs (inventory snapshots,
 * Trivy Operator reports) or what is compliant (ingest, policy and exception changes, expiry and scan-age sweeps)
 * calls this once, in its own transaction, after its last write — so violations are never a step behind the change
 * that caused them, and whatever must follow a violation change (an outbox event) is written in that transaction.
 */
import {
  reconcileRuntimeViolations,
  type ReconciliationResult,
  type ReconciliationScope,
  type ViolationChange,
} from "../db/runtime-violation-repository";
import type { Queryable } from "../db/queryable";
import type { ViolationCause } from "../domain/workload";
import { recordViolationChanges } from "../notifications/violation-events";

export type { ReconciliationResult, ReconciliationScope, ViolationChange };

/**
 * Opens and resolves the violations in scope (see reconcileRuntimeViolations for the statements and the locking)
 * and returns the rows that changed. `cause` is recorded as opened_cause / resolved_cause.
 */
export async function reconcileViolations(
  tx: Queryable,
  scope: ReconciliationScope,
  cause: ViolationCause,
  now: Date,
): Promise<ReconciliationResult> {
  const result = await reconcileRuntimeViolations(tx, scope, cause, now);
  // Their runtime_violation.opened / .resolved notifications, in the same transaction.
  await recordViolationChanges(tx, result, now);
  return result;
}
