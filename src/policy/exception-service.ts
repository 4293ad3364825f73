import { notifyPolicyChanged } from "../db/change-channels";
import { createHash } from "node:crypto";
import { findImageScan, findImageScans } from "../db/image-scan-repository";
import { findLatestDigestsForTags } from "../db/report-repository";
import {
  findFindingKinds,
  findImagesAffectedByException,
  insertException,
  listExceptions,
  revokeException,
  type ExceptionFilter,
  type ExceptionRow,
  type NewException,
} from "../db/policy-repository";
import { inTransaction, lockPolicyExclusively, type Queryable } from "../db/queryable";
import { badRequest, invalid, notFound } from "../domain/errors";
import { isDigest, parseImageReference } from "../domain/image-reference";
import { repositoryMatchesGlob } from "../domain/repository-glob";
import {
  formatOpenVex,
  formatTrivyIgnore,
  planVexImport,
  type ExportTarget,
  type OpenVexDocument,
  type SkippedStatement,
  type UnplacedProduct,
  type VexDocumentInput,
} from "../domain/vex";
import { reevaluateCounting, type PolicyUseCaseDependencies, type ReevaluationOutcome } from "./policy-service";
import { propagatePolicyChange } from "./propagate-change";
import { NO_HOOKS, type TransactionHooks } from "./transaction-hooks";

export type { ExceptionFilter, ExceptionRow, ExceptionState, NewException } from "../db/policy-repository";

/**
 * Exceptions: granting and withdrawing one re-evaluates the images it can affect in the same transaction, under the
 * exclusive policy lock, and drops every replica's cached verdicts before returning, so the answer that the API or
 * the dashboard shows is already in force for every lookup. A refused or failed change propagates nothing.
 */
export class ExceptionService {
  private readonly pool: PolicyUseCaseDependencies["pool"];
  private readonly clock: () => Date;
  private readonly hooks: TransactionHooks;

  constructor(private readonly deps: PolicyUseCaseDependencies) {
    this.pool = deps.pool;
    this.clock = deps.clock;
    this.hooks = deps.transactionHooks ?? NO_HOOKS;
  }

  list(filter: ExceptionFilter): Promise<ExceptionRow[]> {
    return listExceptions(this.pool, filter, this.clock());
  }

  async create(input: NewException): Promise<ExceptionRow & ReevaluationOutcome> {
    const { rows, ...outcome } = await this.createAll([input]);
    return { ...rows[0]!, ...outcome };
  }

  /**
   * Grants several exceptions in one transaction (the dashboard's form grants one per chosen vulnerability ID): all
   * are stored or none, and the images any of them can affect are re-evaluated once. `keep`, when given, chooses
   * which of the inputs to grant inside the transaction, under the policy lock (what exists is read there, so two
   * callers granting the same exceptions at once cannot both find them missing).
   */
  async createAll(
    inputs: readonly NewException[],
    keep?: (tx: Queryable, now: Date) => Promise<readonly NewException[]>,
  ): Promise<{ rows: ExceptionRow[] } & ReevaluationOutcome> {
    const now = this.clock();
    for (const input of inputs)
      if (input.expiresAt !== null && input.expiresAt.getTime() <= now.getTime())
        throw invalid("invalid_request", "The request body is invalid.", [
          { path: "expires_at", message: `must be in the future (now is ${now.toISOString()})` },
        ]);
    const result = await inTransaction(this.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const chosen = keep ? await keep(tx, now) : inputs;
      if (chosen.length === 0) return null;
      const rows: ExceptionRow[] = [];
      const digests = new Set<string>();
      for (const input of chosen) {
        const row = await insertException(tx, input, now);
        rows.push(row);
        for (const digest of await findImagesAffectedByException(tx, row)) digests.add(digest);
      }
      const outcome = await reevaluateCounting(tx, { digests: [...digests] }, now, { hooks: this.hooks, cause: "exception" });
      await this.hooks.policyChanged(tx, { kind: "exceptions_granted", exceptionIds: rows.map((r) => r.id) }, now);
      await notifyPolicyChanged(tx, `exception:${rows.map((r) => r.id).join(",")}`);
      return { rows, ...outcome };
    });
    if (result === null) return { rows: [], reevaluated: 0, changed: 0 };
    await propagatePolicyChange(this.deps);
    return result;
  }

  /**
   * The exceptions in force now for one image (a digest, a reference with one, or a tag a stored report names) or for
   * one repository, as Trivy's `.trivyignore.yaml` or an OpenVEX document (docs/vex.md). For an image: every exception
   * whose scope covers it. For a repository: those that cover every image of it (its glob or everywhere), and for
   * OpenVEX also those scoped to one of its images' digests (the ignore file cannot name an image, so they are left
   * to that image's own export).
   */
  async export(request: { format: "trivyignore" | "openvex"; image?: string | undefined; repository?: string | undefined }): Promise<
    { format: "trivyignore"; target: ExportTarget; body: string } | { format: "openvex"; target: ExportTarget; body: OpenVexDocument }
  > {
    const now = this.clock();
    const active = await listExceptions(this.pool, { state: "active" }, now);
    let target: ExportTarget;
    let rows: ExceptionRow[];
    let label: string;
    if (request.image !== undefined) {
      const digest = await this.resolveImage(request.image);
      const image = await findImageScan(this.pool, digest);
      if (!image) throw notFound("image_not_found", `No image ${digest} is stored.`);
      target = { kind: "image", imageDigest: digest, repository: image.repository };
      rows = active.filter(
        (e) =>
          (e.image_digest === null || e.image_digest === digest) &&
          (e.repository === null || (image.repository !== null && repositoryMatchesGlob(image.repository, e.repository))),
      );
      label = image.repository ? `${image.repository}@${digest}` : digest;
      if (request.format === "openvex" && image.repository === null)
        throw invalid("no_repository", `No stored report names the repository of ${digest}, so no pkg:oci purl can name it; export the ignore file instead.`);
    } else {
      const repository = request.repository!;
      target = { kind: "repository", repository };
      const wide = active.filter((e) => e.image_digest === null && (e.repository === null || repositoryMatchesGlob(repository, e.repository)));
      let pinned: ExceptionRow[] = [];
      if (request.format === "openvex") {
        const digests = [...new Set(active.filter((e) => e.image_digest !== null).map((e) => e.image_digest!))];
        const ofRepository = new Set((await findImageScans(this.pool, digests)).filter((s) => s.repository === repository).map((s) => s.image_digest));
        pinned = active.filter(
          (e) => e.image_digest !== null && ofRepository.has(e.image_digest) && (e.repository === null || repositoryMatchesGlob(repository, e.repository)),
        );
      }
      rows = [...wide, ...pinned];
      label = repository;
    }
    rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
    const kinds = await findFindingKinds(
      this.pool,
      rows.map((r) => r.vulnerability_id),
      target.kind === "image" ? { imageDigest: target.imageDigest } : { repository: target.repository },
    );
    if (request.format === "trivyignore") return { format: "trivyignore", target, body: formatTrivyIgnore(rows, kinds, { target: label, generatedAt: now }) };
    const identity = createHash("sha256")
      .update(JSON.stringify([label, rows.map((r) => [r.id, r.expires_at?.toISOString() ?? null])]))
      .digest("hex");
    return {
      format: "openvex",
      target,
      body: formatOpenVex(rows, kinds, { target, generatedAt: now, tooling: "scan-registry", documentId: `urn:scan-registry:vex:${identity}` }),
    };
  }

  /**
   * An OpenVEX document's not_affected statements as exceptions (docs/vex.md): each statement's products placed as
   * a digest, a repository or everywhere; those it cannot place reported back, never guessed; statements an
   * exception in force already covers (same ID and scope) reported as existing. Everything it makes is granted in one
   * transaction with its re-evaluation, outbox events and cache drops (createAll), or nothing is.
   */
  async importVex(
    doc: VexDocumentInput,
    by: string,
    expiresAt: Date | null,
    normalizeId: (id: string) => string | null,
  ): Promise<
    {
      created: ExceptionRow[];
      existing: Array<{ path: string; vulnerability_id: string; exception_id: string }>;
      unplaced: UnplacedProduct[];
      skipped: SkippedStatement[];
    } & ReevaluationOutcome
  > {
    const plan = planVexImport(doc, normalizeId);
    const now = this.clock();
    const candidates = plan.grants.map(
      (g): NewException => ({
        vulnerabilityId: g.vulnerabilityId,
        repository: g.repository,
        imageDigest: g.imageDigest,
        reason: g.reason,
        justification: g.justification,
        expiresAt,
        createdBy: by,
        requestedBy: `OpenVEX: ${doc.author}`.slice(0, 200),
      }),
    );
    const digests = [...new Set(plan.grants.map((g) => g.imageDigest).filter((d): d is string => d !== null))];
    let existing: Array<{ path: string; vulnerability_id: string; exception_id: string }> = [];
    // Which statements exceptions in force already cover is decided in the granting transaction, under the lock.
    const outcome = await this.createAll(candidates, async (tx) => {
      const active = await listExceptions(tx, { state: "active" }, now);
      // An exception in force, lasting at least as long, whose scope covers the statement's covers the statement already.
      const lasting = active.filter((e) => e.expires_at === null || (expiresAt !== null && e.expires_at.getTime() >= expiresAt.getTime()));
      const repositoryOf = new Map((await findImageScans(tx, digests)).map((s) => [s.image_digest, s.repository]));
      const covers = (e: ExceptionRow, g: (typeof plan.grants)[number]): boolean => {
        if (e.vulnerability_id !== g.vulnerabilityId) return false;
        if (e.image_digest !== null && e.image_digest !== g.imageDigest) return false;
        if (e.repository === null) return true;
        const repository = g.imageDigest !== null ? (repositoryOf.get(g.imageDigest) ?? null) : g.repository;
        return repository !== null && repositoryMatchesGlob(repository, e.repository);
      };
      existing = [];
      const fresh: NewException[] = [];
      plan.grants.forEach((g, i) => {
        const found = lasting.find((e) => covers(e, g));
        if (found) existing.push({ path: g.path, vulnerability_id: g.vulnerabilityId, exception_id: found.id });
        else fresh.push(candidates[i]!);
      });
      return fresh;
    });
    return { created: outcome.rows, existing, unplaced: plan.unplaced, skipped: plan.skipped, reevaluated: outcome.reevaluated, changed: outcome.changed };
  }

  /** A digest, a reference with a digest, or a tag that a stored report names → the digest. */
  private async resolveImage(image: string): Promise<string> {
    if (isDigest(image)) return image;
    const ref = parseImageReference(image);
    if (!ref) throw badRequest("invalid_image", "The image is not a valid reference (registry/repository:tag or …@sha256:…).");
    if (ref.digest) return ref.digest;
    const found = await findLatestDigestsForTags(this.pool, [{ repository: ref.repository, tag: ref.tag ?? "latest" }]);
    const digest = [...found.values()][0];
    if (!digest) throw notFound("image_not_found", `No stored report names ${ref.repository}:${ref.tag ?? "latest"}; pass a digest.`);
    return digest;
  }

  /** Withdraws an exception; the row is kept for audit. Withdrawing one already withdrawn changes nothing. */
  async revoke(id: string, revokedBy: string): Promise<ExceptionRow & ReevaluationOutcome> {
    const result = await inTransaction(this.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const now = this.clock();
      const row = await revokeException(tx, id, revokedBy, now);
      if (!row) throw notFound("exception_not_found", `No exception ${id}.`);
      const outcome = await reevaluateCounting(tx, { digests: await findImagesAffectedByException(tx, row) }, now, { hooks: this.hooks, cause: "exception" });
      await this.hooks.policyChanged(tx, { kind: "exception_revoked", exceptionId: row.id }, now);
      await notifyPolicyChanged(tx, `exception:${row.id}`);
      return { ...row, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }
}
