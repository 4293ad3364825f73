import { notifyVerdictsChanged } from "../db/change-channels";
import { selectEvaluationBatch, updateVerdictBatch, type ImageScanScope } from "../db/image-scan-repository";
import type { Queryable } from "../db/queryable";
import { evaluateCompliance } from "../domain/evaluate-compliance";
import { parseEvaluationInput } from "../domain/evaluation-input";
import type { PolicyExceptionRule } from "../domain/exception";
import type { PolicyVersion } from "../domain/policy";
import type { Verdict } from "../domain/verdict";
import { publishReevaluation } from "../observability/events";
import type { TransactionHooks, VerdictCause } from "./transaction-hooks";

/** Which images to re-evaluate: all, a list of digests, or those whose verdict has run out (valid_until passed). */
export type ReevaluationScope = ImageScanScope;

export interface ReevaluationResult {
  evaluated: number;
  /** Digests whose row was rewritten (every image in scope that still exists). */
  changed: string[];
  /** Images whose answer changed: is_compliant or status differ from what they were before. */
  verdictsChanged: number;
}

export interface EvaluatedImage {
  imageDigest: string;
  repository: string | null;
  before: { isCompliant: boolean; status: Verdict["status"] };
  verdict: Verdict;
}

const BATCH = 5000;

/**
 * Evaluates the images in scope in batches of 5,000 (keyset pagination over the primary key), calling `visit` with
 * each batch's verdicts. Reads each image's current report's compact evaluation input, never the findings table.
 */
export async function evaluateImages(
  q: Queryable,
  scope: ReevaluationScope,
  policy: PolicyVersion,
  exceptions: readonly PolicyExceptionRule[],
  now: Date,
  visit: (batch: EvaluatedImage[]) => Promise<void>,
): Promise<number> {
  const select = (after: string) => selectEvaluationBatch(q, scope, after, BATCH);
  let total = 0;
  // Pipelined: the next batch's SELECT is sent before this batch's visit (the UPDATE), so PostgreSQL writes batch N
  // while this process evaluates batch N+1. The batches are disjoint key ranges, so the order is still correct.
  let pendingVisit: Promise<void> | null = null;
  let nextRows = select("");
  // A rejected SELECT is awaited later; mark it handled now so it cannot crash the process as unhandled.
  nextRows.catch(() => undefined);
  try {
    for (;;) {
      const { rows } = await nextRows;
      if (rows.length === 0) break;
      const batch = rows.map((row) => ({
        imageDigest: row.image_digest,
        repository: row.repository,
        before: { isCompliant: row.is_compliant, status: row.status },
        verdict: evaluateCompliance(
          {
            imageDigest: row.image_digest,
            repository: row.repository,
            scannedAt: row.scanned_at,
            findings: row.evaluation_input === null ? [] : parseEvaluationInput(row.evaluation_input),
          },
          policy.rules,
          exceptions,
          now,
        ),
      }));
      total += batch.length;
      const more = rows.length === BATCH;
      if (more) {
        nextRows = select(rows[rows.length - 1]!.image_digest);
        nextRows.catch(() => undefined);
      }
      if (pendingVisit) await pendingVisit;
      pendingVisit = visit(batch);
      // Observe a failure now; it is rethrown by the await below or at the end.
      pendingVisit.catch(() => undefined);
      if (!more) break;
    }
    if (pendingVisit) await pendingVisit;
  } catch (error) {
    // Let every query already sent settle before the caller rolls back the transaction.
    await Promise.allSettled([nextRows, pendingVisit ?? Promise.resolve()]);
    throw error;
  }
  return total;
}

/** Same-transaction work per written batch (src/policy/transaction-hooks.ts), and why the batch was written. */
export interface ReevaluationHooks {
  hooks: TransactionHooks;
  cause: VerdictCause;
}

/**
 * Re-evaluates the images in scope and writes their verdicts with one UPDATE per batch (UNNEST). Every row gets
 * the new policy version and evaluation time; NOTIFY names the digests whose answer changed. After each batch's
 * UPDATE, in the same transaction, the hooks see the batch's rewritten images (the place for work that must commit
 * with the verdicts: runtime violations, outbox events).
 */
export async function reevaluateImages(
  q: Queryable,
  scope: ReevaluationScope,
  policy: PolicyVersion,
  exceptions: readonly PolicyExceptionRule[],
  now: Date,
  hooks?: ReevaluationHooks,
): Promise<ReevaluationResult> {
  const started = performance.now();
  const changed: string[] = [];
  let verdictsChanged = 0;
  const evaluated = await evaluateImages(q, scope, policy, exceptions, now, async (batch) => {
    const updated = new Set(await updateVerdictBatch(q, batch, policy.version, now));
    const written: EvaluatedImage[] = [];
    for (const b of batch) {
      if (!updated.has(b.imageDigest)) continue;
      changed.push(b.imageDigest);
      written.push(b);
      if (b.before.isCompliant !== b.verdict.isCompliant || b.before.status !== b.verdict.status) verdictsChanged++;
    }
    if (hooks) await hooks.hooks.verdictsStored({ tx: q, cause: hooks.cause, now, policyVersion: policy.version, images: written });
  });
  // Every updated row may answer differently (reasons, policy version): tell every replica's cache.
  if ("all" in scope && changed.length > 1000) await notifyVerdictsChanged(q, "*");
  else await notifyVerdictsChanged(q, changed);
  publishReevaluation({ scope: "all" in scope ? "all" : "digests" in scope ? "digests" : "expired", seconds: (performance.now() - started) / 1000, evaluated });
  return { evaluated, changed, verdictsChanged };
}
