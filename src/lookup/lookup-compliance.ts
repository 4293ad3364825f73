import type { Pool } from "pg";
import { findImageScan, type ImageScanRow } from "../db/image-scan-repository";
import { loadActivePolicy, loadExceptionsInForce } from "../db/policy-repository";
import { inTransaction, tryLockPolicyShared } from "../db/queryable";
import { findLatestDigestForTag } from "../db/report-repository";
import { badRequest } from "../domain/errors";
import { evaluateCompliance, summaryReason } from "../domain/evaluate-compliance";
import { formatImageReference, isDigest, parseImageReference } from "../domain/image-reference";
import type { PolicyVersion } from "../domain/policy";
import type { Reason, Verdict } from "../domain/verdict";
import type { PolicyCache } from "../policy/policy-cache";
import { evaluateImages, reevaluateImages } from "../policy/reevaluate";
import type { TransactionHooks } from "../policy/transaction-hooks";
import type { DecisionLog } from "./decision-log";
import type { CachedAnswer, ComplianceAnswer, VerdictCache } from "./verdict-cache";

export interface LookupContext {
  imageRef?: string | null;
  namespace?: string | null;
  tokenId?: string | null;
  tokenName?: string | null;
}

/** Resolves a tag that no stored report names (e.g. through ECR DescribeImages); null when it cannot. */
export type TagResolver = (reference: { registry: string; path: string; repository: string; tag: string }) => Promise<string | null>;

export interface LookupDependencies {
  pool: Pool;
  clock: () => Date;
  cache: VerdictCache;
  policyCache: PolicyCache;
  decisionLog: DecisionLog;
  tagResolvers?: TagResolver[];
  /** Same-transaction work when a lookup stores a re-evaluated verdict (src/policy/transaction-hooks.ts). */
  transactionHooks?: TransactionHooks;
}

export interface BatchAnswer {
  allowed: boolean;
  results: Array<{ image: string; image_digest: string | null; is_compliant: boolean; status: ComplianceAnswer["status"]; reason: string }>;
}

function toAnswer(row: ImageScanRow): ComplianceAnswer {
  const verdict: Verdict = { isCompliant: row.is_compliant, status: row.status, reasons: row.reasons, validUntil: row.valid_until };
  return {
    image_digest: row.image_digest,
    is_compliant: row.is_compliant,
    status: row.status,
    reason: summaryReason(verdict),
    reasons: row.reasons,
    repository: row.repository,
    scanned_at: row.scanned_at?.toISOString() ?? null,
    evaluated_at: row.evaluated_at.toISOString(),
    policy_version: row.policy_version,
  };
}

/** The answer for a digest with no report: the evaluator's own unscanned verdict under the policy in force. */
function notScannedAnswer(digest: string | null, policy: PolicyVersion, now: Date): ComplianceAnswer {
  const verdict = evaluateCompliance({ imageDigest: digest ?? "", repository: null, scannedAt: null, findings: [] }, policy.rules, [], now);
  return {
    image_digest: digest,
    is_compliant: verdict.isCompliant,
    status: verdict.status,
    reason: summaryReason(verdict),
    reasons: verdict.reasons,
    repository: null,
    scanned_at: null,
    evaluated_at: now.toISOString(),
    policy_version: policy.version,
  };
}

function cached(answer: ComplianceAnswer, validUntil: Date | null, nowMs: number): CachedAnswer {
  return { answer, bytes: Buffer.from(JSON.stringify(answer)), validUntil: validUntil?.getTime() ?? null, loadedAt: nowMs };
}

/**
 * Admission lookups: answer from the in-process cache when it holds a verdict still valid now, else from
 * image_scans; a verdict whose valid_until has passed is re-evaluated on the spot, so no lookup serves an answer
 * that an expiry has made wrong. Every answer is queued for the decision log.
 */
export class ComplianceLookup {
  private readonly loading = new Map<string, Promise<CachedAnswer>>();

  constructor(private readonly deps: LookupDependencies) {}

  async byDigest(digest: string, ctx: LookupContext = {}): Promise<CachedAnswer> {
    if (!isDigest(digest)) throw badRequest("invalid_digest", "The digest must be sha256: followed by 64 lowercase hex digits.");
    const now = this.deps.clock();
    const nowMs = now.getTime();
    const result = this.deps.cache.get(digest, nowMs) ?? (await this.loadOnce(digest, now));
    this.record(result.answer, ctx, now);
    return result;
  }

  /** The cached answer for a digest, recorded in the decision log; null when it is not cached (the caller loads it). */
  cachedByDigest(digest: string, ctx: LookupContext): CachedAnswer | null {
    const now = this.deps.clock();
    const hit = this.deps.cache.get(digest, now.getTime());
    if (hit) this.record(hit.answer, ctx, now);
    return hit;
  }

  /** A reference with a digest, or a tag that a stored report (or a tag resolver) names. */
  async byReference(reference: string, ctx: LookupContext = {}): Promise<CachedAnswer> {
    const ref = parseImageReference(reference);
    if (!ref) throw badRequest("invalid_image", "The image is not a valid reference (registry/repository:tag or …@sha256:…).");
    const imageRef = ctx.imageRef ?? reference;
    if (ref.digest) return this.byDigest(ref.digest, { ...ctx, imageRef });
    const { digest, failure } = await this.resolveTag(ref.registry, ref.path, ref.repository, ref.tag ?? "latest");
    if (digest) return this.byDigest(digest, { ...ctx, imageRef });
    const now = this.deps.clock();
    const answer = notScannedAnswer(null, await this.deps.policyCache.get(now.getTime()), now);
    answer.reason = failure
      ? `the tag of ${formatImageReference(ref)} could not be resolved: ${failure}; pass a digest`
      : `no scan report names ${formatImageReference(ref)}; pass a digest or upload a report for this tag`;
    (answer.reasons[0] as Reason).message = answer.reason;
    this.record(answer, { ...ctx, imageRef }, now);
    return cached(answer, null, now.getTime());
  }

  async batch(images: readonly string[], ctx: LookupContext = {}): Promise<BatchAnswer> {
    const results = await Promise.all(
      images.map(async (image) => {
        const { answer } = isDigest(image)
          ? await this.byDigest(image, { ...ctx, imageRef: image })
          : await this.byReference(image, { ...ctx, imageRef: image });
        return { image, image_digest: answer.image_digest, is_compliant: answer.is_compliant, status: answer.status, reason: answer.reason };
      }),
    );
    return { allowed: results.every((r) => r.is_compliant), results };
  }

  private async resolveTag(registry: string, path: string, repository: string, tag: string): Promise<{ digest: string | null; failure?: string }> {
    const stored = await findLatestDigestForTag(this.deps.pool, repository, tag);
    if (stored) return { digest: stored };
    for (const resolver of this.deps.tagResolvers ?? []) {
      // A resolver that cannot answer (ECR down, throttled) must not turn an admission lookup into a 5xx.
      const digest = await resolver({ registry, path, repository, tag }).catch((error: Error) => ({ failure: error.message }));
      if (typeof digest === "string") return { digest };
      if (digest) return { digest: null, failure: digest.failure };
    }
    return { digest: null };
  }

  /** Concurrent misses for one digest (a Deployment's Pods arriving together) share one load. */
  private loadOnce(digest: string, now: Date): Promise<CachedAnswer> {
    let loading = this.loading.get(digest);
    if (!loading) {
      loading = this.load(digest, now).finally(() => this.loading.delete(digest));
      this.loading.set(digest, loading);
    }
    return loading;
  }

  private async load(digest: string, now: Date): Promise<CachedAnswer> {
    const generation = this.deps.cache.generation;
    const nowMs = now.getTime();
    this.deps.cache.misses++;
    let row = await findImageScan(this.deps.pool, digest);
    if (row && row.valid_until && row.valid_until.getTime() <= nowMs) row = await this.reevaluate(row, now);
    const result = row
      ? cached(toAnswer(row), row.valid_until, nowMs)
      : cached(notScannedAnswer(digest, await this.deps.policyCache.get(nowMs), now), null, nowMs);
    this.deps.cache.set(digest, result, generation);
    return result;
  }

  /**
   * The verdict ran out (an exception expired, the scan went stale): evaluate again now and store it. A policy
   * change in progress holds the policy lock exclusively for seconds and rewrites every verdict itself; admission
   * must not wait for it (nor hold a lookup connection meanwhile), so then the verdict under the policy still in
   * force is computed without being stored.
   */
  private async reevaluate(row: ImageScanRow, now: Date): Promise<ImageScanRow | null> {
    const digest = row.image_digest;
    return inTransaction(this.deps.pool, async (tx) => {
      const locked = await tryLockPolicyShared(tx);
      const policy = await loadActivePolicy(tx);
      const exceptions = await loadExceptionsInForce(tx, now);
      if (locked) {
        await reevaluateImages(tx, { digests: [digest] }, policy, exceptions, now, this.deps.transactionHooks && { hooks: this.deps.transactionHooks, cause: "expiry" });
        return findImageScan(tx, digest);
      }
      let fresh = null as ImageScanRow | null;
      await evaluateImages(tx, { digests: [digest] }, policy, exceptions, now, async ([image]) => {
        if (!image) return;
        const { verdict } = image;
        fresh = { ...row, is_compliant: verdict.isCompliant, status: verdict.status, reasons: verdict.reasons, valid_until: verdict.validUntil, policy_version: policy.version, evaluated_at: now };
      });
      return fresh;
    });
  }

  private record(answer: ComplianceAnswer, ctx: LookupContext, now: Date): void {
    this.deps.decisionLog.record({
      decidedAt: now,
      imageDigest: answer.image_digest,
      imageRef: ctx.imageRef ?? null,
      namespace: ctx.namespace ?? null,
      isCompliant: answer.is_compliant,
      status: answer.status,
      reason: answer.reason,
      policyVersion: answer.policy_version,
      tokenId: ctx.tokenId ?? null,
      tokenName: ctx.tokenName ?? null,
    });
  }
}
