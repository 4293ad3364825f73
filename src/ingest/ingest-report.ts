import type { Pool } from "pg";
import { findImageScans, lockImageVerdicts, upsertImageScans, type ImageScanRow } from "../db/image-scan-repository";
import { notifyVerdictsChanged } from "../db/change-channels";
import { loadActivePolicy, loadExceptionsInForce } from "../db/policy-repository";
import { inTransaction, lockPolicyShared } from "../db/queryable";
import {
  findReportBySha256,
  findReportDigests,
  insertFindings,
  insertRaw,
  insertReport,
  linkReportImages,
} from "../db/report-repository";
import { unpruneReport } from "../db/retention-repository";
import { upsertVulnerabilities } from "../db/vulnerability-repository";
import { evaluateCompliance } from "../domain/evaluate-compliance";
import { toEvaluationInput } from "../domain/evaluation-input";
import type { DecodedReport } from "../domain/report";
import type { ReportFormat } from "../domain/severity";
import { futureScanRefusal } from "../domain/scan-time";
import { summarizeFindings, type FindingSummary } from "../domain/summary";
import { publishReportIngested } from "../observability/events";
import type { ChangePropagation } from "../lookup/change-listener";
import type { TransactionHooks } from "../policy/transaction-hooks";
import type { ImageIdentity } from "../domain/image-identity";
import { normaliseImageRef } from "../domain/workload";
import { recordReportedWorkloads } from "../runtime/record-reported-workloads";
import { resolveImages } from "./resolve-images";
import { captureRaw, storedCopy, type CapturedRaw } from "./raw-capture";
import { sanitizeReport } from "./sanitize";

export interface IngestRequest {
  /** The bytes as uploaded (after Content-Encoding was decoded). */
  bytes: Buffer;
  /** The bytes' hash and gzip copy when the caller computed them while the body arrived; else computed here. */
  raw?: CapturedRaw | undefined;
  /** JSON.parse's value of `bytes`, when the caller parsed them and is done with it: ingest may change it (masking) and empties it. */
  parsed?: { document: unknown } | undefined;
  report: DecodedReport;
  digests: string[];
  image?: string | undefined;
  source?: string | undefined;
  uploadedBy?: string | undefined;
  /** The cluster the report comes from, for a report that says where its image runs (Trivy Operator labels). */
  cluster?: string | undefined;
}

export interface IngestResult {
  reportId: string;
  duplicate: boolean;
  format: ReportFormat;
  images: ImageScanRow[];
  /** Digests this upload linked the report to and judged: all of a new report's; for a duplicate, only digests it did not name before. */
  linkedDigests: string[];
  summary: FindingSummary;
}

export interface IngestDependencies {
  pool: Pool;
  clock: () => Date;
  /** When given, the upload answers only once every replica's cache has dropped the verdicts it changed. */
  changes?: ChangePropagation | undefined;
  /** Same-transaction work for the verdicts the upload stored (src/policy/transaction-hooks.ts). */
  transactionHooks?: TransactionHooks | undefined;
}

/**
 * The upload story: resolve which digests the report describes, store report, raw bytes, findings and vulnerability
 * metadata, and make it each image's current report unless a newer scan is already current — all in one
 * transaction, so a failure leaves nothing behind. The verdict is computed here, under the policy in force.
 */
export async function ingestReport(deps: IngestDependencies, request: IngestRequest): Promise<IngestResult> {
  const report = sanitizeReport(request.report);
  const refusal = futureScanRefusal(report.format, report.scannedAt, deps.clock());
  if (refusal) throw refusal;
  const images = resolveImages(report, { digests: request.digests, image: request.image });
  const captured = request.raw ?? captureRaw(request.bytes);
  const { sha256 } = captured;
  const copy = storedCopy(request.bytes, captured, report.findings.some((f) => f.kind === "secret"), request.parsed);
  const summary = summarizeFindings(report.findings);
  const evaluationInput = toEvaluationInput(report.findings);

  const outcome = await inTransaction(deps.pool, async (tx) => {
    const now = deps.clock();
    const newReportId = await insertReport(tx, {
      report,
      scannedAt: report.scannedAt ?? now,
      sha256,
      source: request.source ?? null,
      uploadedBy: request.uploadedBy ?? null,
      evaluationInput,
    });
    // The same bytes were stored before (perhaps just now, by a concurrent identical upload): nothing of the report
    // is written again, but a digest it is uploaded for that it does not name yet is linked and judged, or
    // admission would keep saying not_scanned for it.
    const target = newReportId ? { id: newReportId, scannedAt: report.scannedAt ?? now } : await findReportBySha256(tx, sha256);
    if (!target) throw new Error("duplicate report vanished");
    const linked = new Set(await linkReportImages(tx, target.id, images, now));
    // A pruned report (history retention deleted its findings and copy) uploaded again is stored whole again: it
    // may become an image's current report now. The row lock also waits out a prune batch that is marking it.
    if (newReportId || (await unpruneReport(tx, target.id))) {
      await upsertVulnerabilities(tx, report.vulnerabilities);
      await insertFindings(tx, target.id, report.findings);
      const written = await copy.written;
      await insertRaw(tx, target.id, written.byteSize, written.gzipped, copy.masked > 0);
    }
    const judged = images.filter((image) => linked.has(image.imageDigest));
    let changed: string[] = [];
    if (judged.length > 0) {
      // Taken only now, for the verdict: held from the start it would keep a policy change waiting through the
      // whole COPY, and every upload and lookup queued behind that change waiting too.
      await lockPolicyShared(tx);
      const policy = await loadActivePolicy(tx);
      const exceptions = await loadExceptionsInForce(tx, now);
      // The answers being replaced, for the hooks (a flip is a verdict.changed notification): read with the rows
      // locked, in the upsert's order, so a concurrent upload for the same digest cannot change them meanwhile.
      const before = deps.transactionHooks ? await lockImageVerdicts(tx, judged.map((i) => i.imageDigest)) : new Map();
      // An image seen for the first time answered as an unscanned image does.
      const unscanned = { isCompliant: policy.rules.unscanned === "allow", status: "not_scanned" as const };
      const upserts = judged.map((image: ImageIdentity) => ({
        ...image,
        reportId: target.id,
        scannedAt: target.scannedAt,
        policyVersion: policy.version,
        summary,
        verdict: evaluateCompliance(
          { imageDigest: image.imageDigest, repository: image.repository, scannedAt: target.scannedAt, findings: evaluationInput },
          policy.rules,
          exceptions,
          now,
        ),
      }));
      changed = await upsertImageScans(tx, upserts, now);
      if (deps.transactionHooks) {
        const stored = new Set(changed);
        await deps.transactionHooks.verdictsStored({
          tx,
          cause: "ingest",
          now,
          policyVersion: policy.version,
          images: upserts
            .filter((u) => stored.has(u.imageDigest))
            .map((u) => ({ imageDigest: u.imageDigest, repository: u.repository, before: before.get(u.imageDigest) ?? unscanned, verdict: u.verdict })),
        });
      }
      await notifyVerdictsChanged(tx, changed);
    }
    if (report.runsIn?.length) {
      const imageRef = report.repoTags[0] ?? report.artifactName;
      await recordReportedWorkloads(tx, { cluster: request.cluster, runsIn: report.runsIn, images, imageRef: imageRef ? normaliseImageRef(imageRef).imageRef : null, now });
    }
    const digests = newReportId ? images.map((i) => i.imageDigest) : await findReportDigests(tx, target.id);
    return { duplicate: !newReportId, reportId: target.id, changed, linked: judged.map((i) => i.imageDigest), rows: await findImageScans(tx, digests) };
  });

  if (deps.changes && outcome.changed.length > 0) await deps.changes.awaitPropagation();
  publishReportIngested({ format: report.format, findings: report.findings.length, duplicate: outcome.duplicate });
  return { reportId: outcome.reportId, duplicate: outcome.duplicate, format: report.format, images: outcome.rows, linkedDigests: outcome.linked, summary };
}
