import type { Pool, PoolClient } from "pg";
import { notifyPolicyChanged } from "../db/change-channels";
import { insertPolicyVersion, listPolicyVersions, loadActivePolicy, loadExceptionsInForce } from "../db/policy-repository";
import { inTransaction, lockPolicyExclusively } from "../db/queryable";
import type { PolicyRules, PolicyVersion } from "../domain/policy";
import type { PrismaClient } from "../generated/prisma/client";
import { propagatePolicyChange, type VerdictCaches } from "./propagate-change";
import { reevaluateImages, type ReevaluationHooks, type ReevaluationScope } from "./reevaluate";
import { NO_HOOKS, type TransactionHooks } from "./transaction-hooks";

export interface ReevaluationOutcome {
  /** Images evaluated (every one in scope gets the policy version and evaluation time). */
  reevaluated: number;
  /** Images whose answer changed: is_compliant or status differ from before. */
  changed: number;
}

export interface PolicySetResult extends ReevaluationOutcome {
  policy: PolicyVersion;
}

/**
 * What the policy and exception use cases need: the database, the time, the caches they must empty on every
 * replica before they return, and the same-transaction hooks of the composition root.
 */
export interface PolicyUseCaseDependencies extends VerdictCaches {
  pool: Pool;
  prisma: PrismaClient;
  clock: () => Date;
  transactionHooks?: TransactionHooks | undefined;
}

/**
 * Re-evaluates the images in scope under the active policy and the exceptions in force, inside the caller's
 * transaction, and counts the answers that changed (each row's answer before is read in the same pass).
 */
export async function reevaluateCounting(tx: PoolClient, scope: ReevaluationScope, now: Date, hooks?: ReevaluationHooks): Promise<ReevaluationOutcome> {
  const policy = await loadActivePolicy(tx);
  const result = await reevaluateImages(tx, scope, policy, await loadExceptionsInForce(tx, now), now, hooks);
  return { reevaluated: result.evaluated, changed: result.verdictsChanged };
}

/**
 * The policy use cases. A new version and the re-evaluation of every stored image happen in one transaction under
 * the exclusive policy lock: when `set` returns, no image is evaluated under an older version, and two concurrent
 * writers get two consecutive versions (the one committed last is in force). Each write finishes its own work before
 * it returns: committed, and every replica's cached verdicts dropped (src/policy/propagate-change.ts).
 */
export class PolicyService {
  private readonly hooks: TransactionHooks;

  constructor(private readonly deps: PolicyUseCaseDependencies) {
    this.hooks = deps.transactionHooks ?? NO_HOOKS;
  }

  current(): Promise<PolicyVersion> {
    return loadActivePolicy(this.deps.pool);
  }

  /** Every version, newest first. */
  versions(): Promise<PolicyVersion[]> {
    return listPolicyVersions(this.deps.prisma);
  }

  /** Stores `rules` (already validated, defaults applied) as the next version and re-evaluates every image under it. */
  async set(rules: PolicyRules, createdBy: string | null): Promise<PolicySetResult> {
    const result = await inTransaction(this.deps.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const now = this.deps.clock();
      const stored = await insertPolicyVersion(tx, rules, now, createdBy);
      const outcome = await reevaluateCounting(tx, { all: true }, now, { hooks: this.hooks, cause: "policy" });
      await this.hooks.policyChanged(tx, { kind: "policy_set", version: stored.version, createdBy }, now);
      await notifyPolicyChanged(tx, String(stored.version));
      return { policy: stored, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }

  /** Re-evaluates every stored image now under the policy in force (e.g. after a restore or a manual SQL change). */
  async reevaluateAll(): Promise<ReevaluationOutcome & { version: number }> {
    const result = await inTransaction(this.deps.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const now = this.deps.clock();
      const outcome = await reevaluateCounting(tx, { all: true }, now, { hooks: this.hooks, cause: "reevaluate" });
      const { version } = await loadActivePolicy(tx);
      await this.hooks.policyChanged(tx, { kind: "reevaluated", version }, now);
      await notifyPolicyChanged(tx, "reevaluate");
      return { version, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }
}
