/**
 * Runtime violations follow every verdict change in the transaction that makes it: registered on the transaction
 * hooks (src/policy/transaction-hooks.ts) by the composition root, so ingest, exception changes, the expiry sweep and
 * a lookup's on-the-spot re-evaluation reconcile the violations of the images they just wrote, and a policy change
 * (or POST /v1/reevaluate) reconciles all of them once.
 */
import type { TransactionHooks } from "../policy/transaction-hooks";
import { reconcileViolations } from "./reconcile-violations";

export function registerRuntimeViolationHooks(hooks: TransactionHooks): void {
  hooks.onVerdictsStored(async ({ tx, cause, now, images }) => {
    // A policy change rewrites every verdict in batches; its violations are reconciled once, for all, below.
    if (cause === "policy" || cause === "reevaluate") return;
    if (cause === "expiry") {
      // A verdict that ran out turned stale (the scan passed max_scan_age_days) or lost an exception that expired.
      const aged = images.filter((i) => i.verdict.status === "stale").map((i) => i.imageDigest);
      const expired = images.filter((i) => i.verdict.status !== "stale").map((i) => i.imageDigest);
      await reconcileViolations(tx, { digests: aged }, "scan_age", now);
      await reconcileViolations(tx, { digests: expired }, "expiry", now);
      return;
    }
    await reconcileViolations(tx, { digests: images.map((i) => i.imageDigest) }, cause === "ingest" ? "report" : "exception", now);
  });
  hooks.onPolicyChange(async (tx, change, now) => {
    // All: also the running images that were never scanned (no image_scans row), whose verdict is the policy's
    // `unscanned` rule.
    if (change.kind === "policy_set" || change.kind === "reevaluated") await reconcileViolations(tx, { all: true }, "policy", now);
  });
}
