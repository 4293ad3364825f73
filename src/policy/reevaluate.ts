import type { Queryable } from "../db/queryable";
import { notifyVerdictsChanged } from "../db/queryable";
import { evaluateCompliance } from "../domain/evaluate-compliance";
import { parseEvaluationInput } from "../domain/evaluation-input";
import type { PolicyExceptionRule } from "../domain/exception";
import type { PolicyVersion } from "../domain/policy";
import type { Verdict } from "../domain/verdict";
import { publishReevaluation } from "../observability/events";
import type { TransactionHooks, VerdictCause } from "./transaction-hooks";

/** Which images to re-evaluate: all, a list of digests, or those whose verdict has run out (valid_until passed). */
export type ReevaluationScope = { all: true } | { digests: readonly string[] } | { expiredAt: Date };

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
  const filter =
    "digests" in scope
      ? "AND s.image_digest = ANY($3::text[])"
      : "expiredAt" in scope
        ? "AND s.valid_until IS NOT NULL AND s.valid_until <= $3"
        : "";
  const select = (after: string) => {
    const params: unknown[] = [after, BATCH];
    if ("digests" in scope) params.push(scope.digests);
    else if ("expiredAt" in scope) params.push(scope.expiredAt);
    return q.query<{
      image_digest: string;
      repository: string | null;
      scanned_at: Date | null;
      is_compliant: boolean;
      status: Verdict["status"];
      evaluation_input: unknown;
    }>(
      `SELECT s.image_digest, s.repository, s.scanned_at, s.is_compliant, s.status, r.evaluation_input
       FROM image_scans s LEFT JOIN scan_reports r ON r.id = s.latest_report_id
       WHERE s.image_digest > $1 ${filter}
       ORDER BY s.image_digest LIMIT $2`,
      params,
    );
  };
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
    const { rows } = await q.query<{ image_digest: string }>(
      `UPDATE image_scans AS s SET
         is_compliant = u.is_compliant, status = u.status, reasons = u.reasons, policy_version = $6,
         evaluated_at = $7, valid_until = u.valid_until
       FROM unnest($1::text[], $2::boolean[], $3::text[], $4::jsonb[], $5::timestamptz[])
         AS u(image_digest, is_compliant, status, reasons, valid_until)
       WHERE s.image_digest = u.image_digest
         -- The batch is one key range (it was read in digest order): bounding s by it lets the planner take the
         -- primary key instead of hashing a scan of the whole table, which grows with every batch's dead rows.
         AND s.image_digest BETWEEN $8 AND $9
       RETURNING s.image_digest`,
      [
        batch.map((b) => b.imageDigest),
        batch.map((b) => b.verdict.isCompliant),
        batch.map((b) => b.verdict.status),
        batch.map((b) => JSON.stringify(b.verdict.reasons)),
        batch.map((b) => b.verdict.validUntil),
        policy.version,
        now,
        batch[0]!.imageDigest,
        batch[batch.length - 1]!.imageDigest,
      ],
    );
    const updated = new Set(rows.map((r) => r.image_digest));
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
