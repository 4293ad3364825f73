import { notifyVerdictsChanged } from "../db/change-channels";
import { findSharedReports, planWithoutParallelWorkers, selectEvaluationBatch, updateVerdictBatch, type EvaluationRow, type ImageScanScope } from "../db/image-scan-repository";
import type { Queryable } from "../db/queryable";
import { countedFindings, evaluateCompliance } from "../domain/evaluate-compliance";
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
  /** Digests whose row was rewritten: the verdict (is_compliant, status, reasons or valid_until) differs from before. */
  changed: string[];
  /** Images whose answer changed: is_compliant or status differ from what they were before. */
  verdictsChanged: number;
}

export interface EvaluatedImage {
  imageDigest: string;
  repository: string | null;
  /** The report the verdict was computed from (latest_report_id when read). */
  reportId: string | null;
  before: { isCompliant: boolean; status: Verdict["status"] };
  /** What else of the stored verdict was read: enough to tell that a compliant verdict stays exactly as stored. */
  stored: { validUntil: Date | null; noReasons: boolean };
  verdict: Verdict;
}

/**
 * The new verdict is known to equal the stored one without asking PostgreSQL: same answer, no reasons on either side,
 * same validity. The UPDATE's IS DISTINCT FROM would skip such a row too; deciding here spares sending it. Most images
 * are compliant and stay so after a policy change (half of them in the reevaluate bench), so most of a batch is not
 * serialised, sent or joined at all. Anything with reasons is left to the UPDATE's comparison.
 */
/** The image answers as it did before (admitted or not, same status). */
const sameAnswer = (b: EvaluatedImage): boolean => b.before.isCompliant === b.verdict.isCompliant && b.before.status === b.verdict.status;

function storedAsIs(b: EvaluatedImage): boolean {
  return (
    b.stored.noReasons &&
    b.verdict.reasons.length === 0 &&
    sameAnswer(b) &&
    (b.stored.validUntil?.getTime() ?? null) === (b.verdict.validUntil?.getTime() ?? null)
  );
}

const BATCH = 5000;
const NO_REPOSITORY = "\u0001";

/**
 * What the evaluator reads of an image, as a key: images with the same current report, repository and scan time
 * get the same verdict unless an exception names one of their digests, so each such input is evaluated once per run.
 */
function evaluationKey(row: EvaluationRow, digestScoped: ReadonlySet<string>): string {
  return `${row.latest_report_id}\u0000${row.repository ?? NO_REPOSITORY}\u0000${row.scanned_at?.getTime() ?? ""}\u0000${digestScoped.has(row.image_digest) ? row.image_digest : ""}`;
}

/**
 * Evaluates the images in scope in batches of 5,000 (keyset pagination over the primary key), calling `visit` with
 * each batch's verdicts. Reads each image's current report's compact evaluation input, never the findings table, and
 * of it only the findings the policy can count (countedFindings).
 * Images sharing a report (and so an evaluation input) are evaluated once per run: their verdict is remembered for
 * the run when the report is the current one of several images in scope. `q` is a transaction: the batches
 * share its snapshot, and its plan settings end with it.
 */
export async function evaluateImages(
  q: Queryable,
  scope: ReevaluationScope,
  policy: PolicyVersion,
  exceptions: readonly PolicyExceptionRule[],
  now: Date,
  visit: (batch: EvaluatedImage[]) => Promise<void>,
): Promise<number> {
  // Only the findings this policy can count are read (the evaluator skips the others: same verdicts).
  const counted = countedFindings(policy.rules);
  const select = (after: string) => selectEvaluationBatch(q, scope, after, BATCH, counted);
  // Many batches: plan them serially (see planWithoutParallelWorkers). A lookup's few digests skip the round trip.
  if (!("digests" in scope)) await planWithoutParallelWorkers(q);
  const shared = await findSharedReports(q, scope);
  const digestScoped = new Set(exceptions.flatMap((e) => (e.imageDigest === null ? [] : [e.imageDigest])));
  const remembered = new Map<string, Verdict>();
  const evaluate = (row: EvaluationRow): Verdict => {
    const key = row.latest_report_id !== null && shared.has(row.latest_report_id) ? evaluationKey(row, digestScoped) : null;
    const known = key === null ? undefined : remembered.get(key);
    if (known) return known;
    const verdict = evaluateCompliance(
      {
        imageDigest: row.image_digest,
        repository: row.repository,
        scannedAt: row.scanned_at,
        findings: row.evaluation_input === null ? [] : parseEvaluationInput(row.evaluation_input),
      },
      policy.rules,
      exceptions,
      now,
    );
    if (key !== null) remembered.set(key, verdict);
    return verdict;
  };
  let total = 0;
  // Pipelined: the next batch's SELECT is sent before this batch is evaluated and visited (the UPDATE), so PostgreSQL
  // reads batch N+1 and writes batch N while this process evaluates. The batches are disjoint key ranges, so the order
  // is still correct.
  let pendingVisit: Promise<void> | null = null;
  let nextRows = select("");
  // A rejected SELECT is awaited later; mark it handled now so it cannot crash the process as unhandled.
  nextRows.catch(() => undefined);
  try {
    for (;;) {
      const { rows } = await nextRows;
      if (rows.length === 0) break;
      const more = rows.length === BATCH;
      // The next batch's SELECT goes before this batch is evaluated: PostgreSQL reads batch N+1 while this process
      // evaluates batch N (sent after evaluating, the SELECT left the server idle for the whole evaluation).
      if (more) {
        nextRows = select(rows[rows.length - 1]!.image_digest);
        nextRows.catch(() => undefined);
      }
      const batch = rows.map((row) => ({
        imageDigest: row.image_digest,
        repository: row.repository,
        reportId: row.latest_report_id,
        before: { isCompliant: row.is_compliant, status: row.status },
        stored: { validUntil: row.valid_until, noReasons: row.no_reasons },
        verdict: evaluate(row),
      }));
      total += batch.length;
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
 * Re-evaluates the images in scope and writes, with one UPDATE per batch (UNNEST), only the verdicts that differ
 * from the stored ones: an unchanged row is not rewritten. NOTIFY names the digests whose row was rewritten. After
 * each batch's UPDATE, in the same transaction, the hooks see that batch's rewritten images only, once per batch of
 * up to 5,000 (never per row): the place for work that must commit with verdict changes (runtime violations,
 * outbox events of verdict.changed).
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
    const candidates = batch.filter((b) => !storedAsIs(b));
    if (candidates.length === 0) return;
    const updated = new Set(await updateVerdictBatch(q, candidates, policy.version, now));
    if (updated.size === 0) return;
    const written = candidates.filter((b) => updated.has(b.imageDigest));
    for (const b of written) {
      changed.push(b.imageDigest);
      if (!sameAnswer(b)) verdictsChanged++;
    }
    if (hooks) await hooks.hooks.verdictsStored({ tx: q, cause: hooks.cause, now, policyVersion: policy.version, images: written });
  });
  // Every rewritten row may answer differently (reasons, validity): tell every replica's cache.
  if ("all" in scope && changed.length > 1000) await notifyVerdictsChanged(q, "*");
  else await notifyVerdictsChanged(q, changed);
  publishReevaluation({ scope: "all" in scope ? "all" : "digests" in scope ? "digests" : "expired", seconds: (performance.now() - started) / 1000, evaluated });
  return { evaluated, changed, verdictsChanged };
}
