import type { ChangePropagation } from "../lookup/change-listener";

/** The caches a verdict change must reach, and the way to reach the other replicas' caches. */
export interface VerdictCaches {
  policyCache: { invalidate(): void };
  verdictCache: { clear(): void };
  /** This replica's change listener; absent where no other replica can exist (a tool, a unit test). */
  changes?: ChangePropagation | undefined;
}

/**
 * After a committed policy or exception change: forget this replica's cached policy and verdicts at once (so a
 * lookup that follows the answer on this replica never races the NOTIFY), then wait (bounded) until every other
 * replica's listener has acknowledged the change, so a lookup anywhere after the answer sees the new verdicts.
 * The use cases call it before they return; routes and pages never do.
 */
export async function propagatePolicyChange(caches: VerdictCaches): Promise<void> {
  caches.policyCache.invalidate();
  caches.verdictCache.clear();
  await caches.changes?.awaitPropagation();
}
