import type { Pool } from "pg";
import { findImageScans, type ImageScanRow } from "../db/image-scan-repository";
import { loadActivePolicy, loadExceptionsInForce } from "../db/policy-repository";
import { inTransaction, tryLockPolicyShared } from "../db/queryable";
import { findLatestDigestsForTags, tagKey } from "../db/report-repository";
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
  /**
   * The caller is not authenticated (LOOKUP_AUTH=none): its lookup never makes a call to another system (ECR tag
   * resolution), so an open lookup port cannot be used to make the service sign AWS requests.
   */
  anonymous?: boolean;
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

const INVALID_DIGEST_MESSAGE = "The digest must be sha256: followed by 64 lowercase hex digits.";

type TagTarget = { registry: string; path: string; repository: string; tag: string };
type Target = { digest: string } | TagTarget;
interface TagResolution {
  digest: string | null;
  failure?: string;
}

/** A digest, or a reference with a digest or a tag; a malformed one is a 400. */
function toTarget(image: string): Target {
  if (isDigest(image)) return { digest: image };
  // `sha256:abc` would otherwise parse as docker.io/library/sha256 tagged abc, and answer not_scanned for a typo.
  const digestPart = /^sha256:/i.test(image) ? image : image.includes("@") ? image.slice(image.indexOf("@") + 1) : null;
  if (digestPart !== null && !isDigest(digestPart)) throw badRequest("invalid_digest", INVALID_DIGEST_MESSAGE);
  const ref = parseImageReference(image);
  if (!ref) throw badRequest("invalid_image", "The image is not a valid reference (registry/repository:tag or …@sha256:…).");
  if (ref.digest) return { digest: ref.digest };
  return { registry: ref.registry, path: ref.path, repository: ref.repository, tag: ref.tag ?? "latest" };
}

/** The not-scanned answer for a tag that resolves to no digest, saying why. */
function unresolvedAnswer(t: TagTarget, failure: string | undefined, policy: PolicyVersion, now: Date): ComplianceAnswer {
  const answer = notScannedAnswer(null, policy, now);
  const name = formatImageReference({ registry: t.registry, path: t.path, repository: t.repository, tag: t.tag, digest: null });
  answer.reason = failure
    ? `the tag of ${name} could not be resolved: ${failure}; pass a digest`
    : `no scan report names ${name}; pass a digest or upload a report for this tag`;
  (answer.reasons[0] as Reason).message = answer.reason;
  return answer;
}

function cached(answer: ComplianceAnswer, validUntil: Date | null, nowMs: number): CachedAnswer {
  const text = JSON.stringify(answer);
  return { answer, text, byteLength: Buffer.byteLength(text), validUntil: validUntil?.getTime() ?? null, loadedAt: nowMs };
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
    if (!isDigest(digest)) throw badRequest("invalid_digest", INVALID_DIGEST_MESSAGE);
    const now = this.deps.clock();
    const result = this.deps.cache.get(digest, now.getTime()) ?? (await this.loadOnce([digest], now))[0]!;
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
    const target = toTarget(reference);
    const imageRef = ctx.imageRef ?? reference;
    if ("digest" in target) return this.byDigest(target.digest, { ...ctx, imageRef });
    const [resolution] = await this.resolveTags([target], ctx.anonymous === true);
    if (resolution!.digest) return this.byDigest(resolution!.digest, { ...ctx, imageRef });
    const now = this.deps.clock();
    const answer = unresolvedAnswer(target, resolution!.failure, await this.deps.policyCache.get(now.getTime()), now);
    this.record(answer, { ...ctx, imageRef }, now);
    return cached(answer, null, now.getTime());
  }

  /**
   * One answer per image, in the order asked (duplicates answered and recorded each time). Every reference is checked
   * before anything is looked up or recorded; tags are resolved with one statement, and the digests the cache does
   * not hold are read with one statement (and expired verdicts re-evaluated in one transaction).
   */
  async batch(images: readonly string[], ctx: LookupContext = {}): Promise<BatchAnswer> {
    const targets = images.map(toTarget);
    const tags = targets.filter((t): t is TagTarget => !("digest" in t));
    const resolutions = new Map<string, TagResolution>();
    if (tags.length > 0) {
      const distinct = [...new Map(tags.map((t) => [tagKey(t), t])).values()];
      const resolved = await this.resolveTags(distinct, ctx.anonymous === true);
      distinct.forEach((t, i) => resolutions.set(tagKey(t), resolved[i]!));
    }
    const digestOf = (t: Target): string | null => ("digest" in t ? t.digest : (resolutions.get(tagKey(t))!.digest ?? null));

    const now = this.deps.clock();
    const nowMs = now.getTime();
    const answers = new Map<string, CachedAnswer>();
    const missing: string[] = [];
    for (const t of targets) {
      const digest = digestOf(t);
      if (digest === null || answers.has(digest) || missing.includes(digest)) continue;
      const hit = this.deps.cache.get(digest, nowMs);
      if (hit) answers.set(digest, hit);
      else missing.push(digest);
    }
    if (missing.length > 0) (await this.loadOnce(missing, now)).forEach((answer, i) => answers.set(missing[i]!, answer));
    const policy = tags.length > 0 ? await this.deps.policyCache.get(nowMs) : null;

    const imageAnswers = targets.map((t) => {
      const digest = digestOf(t);
      return digest !== null ? answers.get(digest)!.answer : unresolvedAnswer(t as TagTarget, resolutions.get(tagKey(t as TagTarget))!.failure, policy!, now);
    });
    return this.answerBatch(images, imageAnswers, ctx, now);
  }

  /**
   * The batch answer when every image is a well-formed digest reference whose verdict the cache holds, recorded in
   * the decision log like batch()'s; null otherwise (a tag, a malformed reference, a miss: the caller runs batch(),
   * which answers or refuses it). Nothing is recorded or counted unless every image is answered.
   */
  cachedBatch(images: readonly string[], ctx: LookupContext = {}): BatchAnswer | null {
    const now = this.deps.clock();
    const nowMs = now.getTime();
    const answers: CachedAnswer[] = [];
    const distinct = new Set<string>();
    for (const image of images) {
      let target: Target;
      try {
        target = toTarget(image);
      } catch {
        return null;
      }
      if (!("digest" in target)) return null;
      const hit = this.deps.cache.get(target.digest, nowMs, false);
      if (!hit) return null;
      distinct.add(target.digest);
      answers.push(hit);
    }
    this.deps.cache.hits += distinct.size;
    return this.answerBatch(images, answers.map((a) => a.answer), ctx, now);
  }

  /** The batch answer for `images` and their answers, in order, each recorded in the decision log. */
  private answerBatch(images: readonly string[], answers: readonly ComplianceAnswer[], ctx: LookupContext, now: Date): BatchAnswer {
    const results = answers.map((answer, i) => {
      const image = images[i]!;
      this.record(answer, { ...ctx, imageRef: image }, now);
      return { image, image_digest: answer.image_digest, is_compliant: answer.is_compliant, status: answer.status, reason: answer.reason };
    });
    return { allowed: results.every((r) => r.is_compliant), results };
  }

  /** Each tag's digest from the stored reports (one statement for all), else from the tag resolvers, in order. */
  private async resolveTags(tags: readonly TagTarget[], anonymous: boolean): Promise<TagResolution[]> {
    const stored = await findLatestDigestsForTags(this.deps.pool, tags);
    return Promise.all(
      tags.map(async (t): Promise<TagResolution> => {
        const digest = stored.get(tagKey(t));
        if (digest) return { digest };
        // An unauthenticated lookup (LOOKUP_AUTH=none) never makes a call to another system.
        for (const resolver of anonymous ? [] : (this.deps.tagResolvers ?? [])) {
          // A resolver that cannot answer (ECR down, throttled) must not turn an admission lookup into a 5xx.
          const found = await resolver(t).catch((error: Error) => ({ failure: error.message }));
          if (typeof found === "string") return { digest: found };
          if (found) return { digest: null, failure: found.failure };
        }
        return { digest: null };
      }),
    );
  }

  /**
   * The answers for digests the cache did not hold, in order. Concurrent misses for one digest (a Deployment's Pods
   * arriving together) share one load; the digests nobody is loading yet are read together.
   */
  private loadOnce(digests: readonly string[], now: Date): Promise<CachedAnswer[]> {
    const fresh = digests.filter((d) => !this.loading.has(d));
    if (fresh.length > 0) {
      const batch = this.load(fresh, now);
      batch.catch(() => undefined); // observed through each digest's promise below
      const done = batch.then(
        () => undefined,
        () => undefined,
      );
      for (const digest of fresh) {
        const one = batch.then((answers) => answers.get(digest)!);
        this.loading.set(digest, one);
        void done.then(() => {
          if (this.loading.get(digest) === one) this.loading.delete(digest);
        });
      }
    }
    return Promise.all(digests.map((d) => this.loading.get(d)!));
  }

  private async load(digests: readonly string[], now: Date): Promise<Map<string, CachedAnswer>> {
    const generation = this.deps.cache.generation;
    const nowMs = now.getTime();
    this.deps.cache.misses += digests.length;
    const rows = new Map<string, ImageScanRow | null>((await findImageScans(this.deps.pool, digests)).map((r) => [r.image_digest, r]));
    const expired = [...rows.values()].filter((r): r is ImageScanRow => r !== null && r.valid_until !== null && r.valid_until.getTime() <= nowMs);
    if (expired.length > 0) for (const [digest, row] of await this.reevaluate(expired, now)) rows.set(digest, row);
    const answers = new Map<string, CachedAnswer>();
    let policy: PolicyVersion | undefined;
    for (const digest of digests) {
      const row = rows.get(digest);
      const result = row
        ? cached(toAnswer(row), row.valid_until, nowMs)
        : cached(notScannedAnswer(digest, (policy ??= await this.deps.policyCache.get(nowMs)), now), null, nowMs);
      this.deps.cache.set(digest, result, generation);
      answers.set(digest, result);
    }
    return answers;
  }

  /**
   * The verdicts ran out (an exception expired, the scan went stale): evaluate again now and store them. A policy
   * change in progress holds the policy lock exclusively for seconds and rewrites every verdict itself; admission
   * must not wait for it (nor hold a lookup connection meanwhile), so then the verdicts under the policy still in
   * force are computed without being stored. An image deleted meanwhile maps to null.
   */
  private async reevaluate(rows: readonly ImageScanRow[], now: Date): Promise<Map<string, ImageScanRow | null>> {
    const digests = rows.map((r) => r.image_digest);
    const fresh = new Map<string, ImageScanRow | null>(digests.map((d) => [d, null]));
    await inTransaction(this.deps.pool, async (tx) => {
      const locked = await tryLockPolicyShared(tx);
      const policy = await loadActivePolicy(tx);
      const exceptions = await loadExceptionsInForce(tx, now);
      if (locked) {
        await reevaluateImages(tx, { digests }, policy, exceptions, now, this.deps.transactionHooks && { hooks: this.deps.transactionHooks, cause: "expiry" });
        for (const row of await findImageScans(tx, digests)) fresh.set(row.image_digest, row);
        return;
      }
      const before = new Map(rows.map((r) => [r.image_digest, r]));
      await evaluateImages(tx, { digests }, policy, exceptions, now, async (batch) => {
        for (const { imageDigest, verdict } of batch) {
          const row = before.get(imageDigest);
          if (!row) continue;
          fresh.set(imageDigest, { ...row, is_compliant: verdict.isCompliant, status: verdict.status, reasons: verdict.reasons, valid_until: verdict.validUntil, policy_version: policy.version, evaluated_at: now });
        }
      });
    });
    return fresh;
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
