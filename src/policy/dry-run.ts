import type { Pool } from "pg";
import { loadActivePolicy, loadExceptionsInForce } from "../db/policy-repository";
import { inReadOnlySnapshot } from "../db/queryable";
import type { PolicyRules } from "../domain/policy";
import type { ComplianceStatus, Reason } from "../domain/verdict";
import { evaluateImages } from "./reevaluate";

export interface VerdictChange {
  imageDigest: string;
  repository: string | null;
  from: { isCompliant: boolean; status: ComplianceStatus };
  to: { isCompliant: boolean; status: ComplianceStatus; reasons: Reason[] };
}

export interface DryRunResult {
  /** The policy version the candidate is compared with. */
  comparedWithVersion: number;
  evaluated: number;
  /** How many answers would change; `changes` lists the first `maxChanges` of them. */
  changed: number;
  changes: VerdictChange[];
  truncated: boolean;
}

/** Enough for any review by a person, and a bounded answer for a registry of 100,000 images. */
const MAX_DRY_RUN_CHANGES = 10_000;

/**
 * Evaluates every stored image under a candidate policy (with the exceptions in force now) and reports the images
 * whose answer (is_compliant or status) would change. Read-only, in one REPEATABLE READ snapshot so the batches agree
 * with each other; nothing is written and no lock is taken, so lookups and uploads carry on.
 */
export async function dryRunPolicy(
  pool: Pool,
  clock: () => Date,
  candidate: PolicyRules,
  maxChanges = MAX_DRY_RUN_CHANGES,
): Promise<DryRunResult> {
  return inReadOnlySnapshot(pool, async (tx) => {
    const now = clock();
    const active = await loadActivePolicy(tx);
    const exceptions = await loadExceptionsInForce(tx, now);

    // A stored verdict whose valid_until has passed is no longer what a lookup answers (the lookup re-evaluates it,
    // the sweeper catches up within 60 s): compare with the verdict under the active policy now instead.
    const current = new Map<string, VerdictChange["from"]>();
    await evaluateImages(tx, { expiredAt: now }, active, exceptions, now, async (batch) => {
      for (const b of batch) current.set(b.imageDigest, { isCompliant: b.verdict.isCompliant, status: b.verdict.status });
    });

    const changes: VerdictChange[] = [];
    let changed = 0;
    const policy = { version: active.version + 1, rules: candidate, createdAt: now, createdBy: null };
    const evaluated = await evaluateImages(tx, { all: true }, policy, exceptions, now, async (batch) => {
      for (const b of batch) {
        const from = current.get(b.imageDigest) ?? b.before;
        if (from.isCompliant === b.verdict.isCompliant && from.status === b.verdict.status) continue;
        changed++;
        if (changes.length < maxChanges)
          changes.push({
            imageDigest: b.imageDigest,
            repository: b.repository,
            from,
            to: { isCompliant: b.verdict.isCompliant, status: b.verdict.status, reasons: b.verdict.reasons },
          });
      }
    });

    return { comparedWithVersion: active.version, evaluated, changed, changes, truncated: changed > changes.length };
  });
}
