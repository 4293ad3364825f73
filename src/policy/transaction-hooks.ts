import type { Queryable } from "../db/queryable";
import type { ComplianceStatus, Verdict } from "../domain/verdict";

/** Why verdicts were (re)computed and stored. */
export type VerdictCause = "ingest" | "policy" | "exception" | "reevaluate" | "expiry";

/** One image whose verdict was just stored, in the transaction that stored it. */
export interface StoredVerdict {
  imageDigest: string;
  repository: string | null;
  /**
   * The answer before this transaction (for an image never seen before, the not_scanned answer it gave); null when
   * the use case did not read it.
   */
  before: { isCompliant: boolean; status: ComplianceStatus } | null;
  verdict: Verdict;
}

/** A batch of stored verdicts (at most 5,000 images: re-evaluation's batch), still inside the writing transaction. */
export interface StoredVerdictBatch {
  tx: Queryable;
  cause: VerdictCause;
  now: Date;
  policyVersion: number;
  images: readonly StoredVerdict[];
}

/** A policy or exception change, inside its transaction, after its re-evaluation and before commit. */
export type PolicyChange =
  | { kind: "policy_set"; version: number; createdBy: string | null }
  | { kind: "reevaluated"; version: number }
  | { kind: "exceptions_granted"; exceptionIds: string[] }
  | { kind: "exception_revoked"; exceptionId: string };

export type StoredVerdictHook = (batch: StoredVerdictBatch) => Promise<void>;
export type PolicyChangeHook = (tx: Queryable, change: PolicyChange, now: Date) => Promise<void>;

/**
 * Work that must commit or roll back with a verdict change (runtime-violation reconciliation, outbox events):
 * registered once by the composition root (src/server.ts), run by the use cases inside their own transaction, so a
 * failing hook rolls the whole change back and a committed change always carries its hooks' rows.
 *
 * - `onVerdictsStored`: every batch of verdicts that ingest, a policy or exception change, POST /v1/reevaluate,
 *   the expiry sweep or a lookup's on-the-spot re-evaluation writes to image_scans (src/policy/reevaluate.ts runs it
 *   per batch, right after the batch's UPDATE; src/ingest/ingest-report.ts after its upsert).
 * - `onPolicyChange`: once per policy version stored, re-evaluation requested, exceptions granted or withdrawn.
 * Hooks run in registration order; they must use `tx` (never the pool) and must not commit.
 */
export class TransactionHooks {
  private readonly verdictHooks: StoredVerdictHook[] = [];
  private readonly changeHooks: PolicyChangeHook[] = [];

  onVerdictsStored(hook: StoredVerdictHook): this {
    this.verdictHooks.push(hook);
    return this;
  }

  onPolicyChange(hook: PolicyChangeHook): this {
    this.changeHooks.push(hook);
    return this;
  }

  async verdictsStored(batch: StoredVerdictBatch): Promise<void> {
    if (batch.images.length === 0) return;
    for (const hook of this.verdictHooks) await hook(batch);
  }

  async policyChanged(tx: Queryable, change: PolicyChange, now: Date): Promise<void> {
    for (const hook of this.changeHooks) await hook(tx, change, now);
  }
}

/** No hooks: for callers (tests, tools) that build a use case without the composition root. */
export const NO_HOOKS = new TransactionHooks();
