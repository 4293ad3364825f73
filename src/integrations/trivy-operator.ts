/**
 * Trivy Operator's webhook broadcast (OPERATOR_WEBHOOK_BROADCAST_URL → POST /v1/integrations/trivy-operator).
 *
 * The operator sends each VulnerabilityReport and ExposedSecretReport separately, as the resource itself, or as
 * `{verb, operatorObject}` (verb "delete" when OPERATOR_SEND_DELETED_REPORTS is on). It ignores our answers, so a
 * refusal is also written to the log, naming the resource.
 *
 * One logical report per image: a new resource of one kind (vulnerabilities or secrets) is combined with the latest
 * stored operator resource of the other kind for the same digest, and the combination is ingested as one report.
 * Otherwise the newest-scan-wins rule would let a secret report replace the image's vulnerabilities (or the
 * reverse). The stored bytes are the combined resources as a Kubernetes List (canonical JSON), so an identical
 * broadcast again is a duplicate.
 *
 * A delete marks the digest's operator reports deleted (deleted_at; the rows stay for history, and tag lookups no
 * longer use them), and subtracts them from the history rollups in the same transaction. The image's verdict is kept: the operator deletes reports when a workload goes away or a report's
 * TTL expires before a rescan, and the image's content has not changed; a fresh report replaces it as usual.
 */
import { gunzipSync } from "node:zlib";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { inTransaction, withSessionAdvisoryLock } from "../db/queryable";
import { lockRollupsShared, subtractWithdrawnReports } from "../db/rollup-repository";
import { findLatestOperatorRawReport, markOperatorReportsDeleted } from "../db/report-repository";
import { invalid, type DomainError } from "../domain/errors";
import { parseImageReference } from "../domain/image-reference";
import type { DecodedReport } from "../domain/report";
import { decodeOperatorResource, unwrapOperatorPayload } from "../formats";
import { combineImageReports, resourcePath } from "../formats/trivy-operator";
import { rawFindingCount, tooManyFindings } from "../formats/finding-count";
import { ingestReport, type IngestDependencies, type IngestResult } from "../ingest/ingest-report";
import { canonicalJson } from "./canonical-json";
import { maskSecretContext } from "../formats/mask-secrets";

export interface OperatorWebhookDependencies {
  pool: Pool;
  /** Where the per-digest session advisory lock is taken: a direct connection (not through a transaction pooler). */
  lockPool?: Pool | undefined;
  clock: () => Date;
  logger: Logger;
  /** As for uploads: answer once every replica has dropped the verdicts the report changed. */
  changes?: IngestDependencies["changes"];
  transactionHooks?: IngestDependencies["transactionHooks"];
  /** MAX_REPORT_FINDINGS, for the payload and for each image's combined report (413 too_many_findings). */
  maxFindings?: number | undefined;
}

export type OperatorWebhookOutcome =
  | { verb: "delete"; deleted: Array<{ image_digest: string; resource: string; reports_marked: number }> }
  | { verb: string; results: IngestResult[] };

interface Received {
  resource: Record<string, unknown>;
  name: string;
  group: "vulnerabilities" | "secrets";
  report: DecodedReport;
  digest: string;
}

/** Serialises webhook work per digest (two-key advisory locks, apart from the policy lock's one-key space). */
const OPERATOR_LOCK_CLASS = 0x5ca9_0004;

export async function receiveOperatorWebhook(
  deps: OperatorWebhookDependencies,
  request: { json: unknown; uploadedBy?: string | undefined; cluster?: string | undefined },
): Promise<OperatorWebhookOutcome> {
  const { verb, resources } = unwrapOperatorPayload(request.json);
  // Counted on the raw JSON before any resource is validated (which copies every entry), as uploads are.
  if (deps.maxFindings !== undefined && (verb ?? "").toLowerCase() !== "delete") {
    const count = rawFindingCount("trivy-operator", request.json);
    if (count > deps.maxFindings) throw refusedAsTooLarge(deps.logger, tooManyFindings(count, deps.maxFindings), resources.length);
  }
  const received = resources.map((resource, i) => identify(deps.logger, resource, resourcePath(request.json, i)));

  if ((verb ?? "").toLowerCase() === "delete") {
    const deleted = [];
    for (const r of received) {
      // One transaction with the rollups' correction: a withdrawn report leaves the history counts as it leaves them.
      const rowCount = await inTransaction(deps.pool, async (tx) => {
        await lockRollupsShared(tx);
        const ids = await markOperatorReportsDeleted(tx, r.digest, deps.clock());
        await subtractWithdrawnReports(tx, ids);
        return ids.length;
      });
      deleted.push({ image_digest: r.digest, resource: r.name, reports_marked: rowCount });
      deps.logger.info({ image_digest: r.digest, resource: r.name, reports_marked: rowCount }, "trivy-operator report deleted");
    }
    return { verb: "delete", deleted };
  }

  const results: IngestResult[] = [];
  for (const r of received) results.push(await withDigestLock(deps.lockPool ?? deps.pool, r.digest, () => ingestCombined(deps, r, request.uploadedBy, request.cluster)));
  return { verb: verb ?? "update", results };
}

function identify(logger: Logger, resource: unknown, path: string): Received {
  const report = decodeOperatorResource(resource, path);
  const res = resource as { kind: string; metadata?: { name?: string; namespace?: string } };
  const name = `${res.kind} ${res.metadata?.namespace ? `${res.metadata.namespace}/` : ""}${res.metadata?.name ?? "(unnamed)"}`;
  const digest = report.repoDigests.map((d) => parseImageReference(d)?.digest).find((d) => d) ?? null;
  if (!digest) {
    // The operator does not read answers: the log is where an operator administrator will see this.
    logger.warn({ resource: name, artifact: report.artifactName }, "trivy-operator report refused: report.artifact.digest is missing");
    throw invalid(
      "missing_digest",
      `${name} has no report.artifact.digest, so it cannot be tied to an image digest (admission asks by digest). ` +
        "Trivy Operator fills it in when it can resolve the image's digest; upload the resource to POST /v1/reports?digest=sha256:… instead.",
      [{ path: `${path ? `${path}.` : ""}report.artifact.digest`, message: "required" }],
    );
  }
  const group = report.findings.some((f) => f.kind === "secret") || res.kind === "ExposedSecretReport" ? "secrets" : "vulnerabilities";
  return { resource: resource as Record<string, unknown>, name, group, report, digest };
}

async function ingestCombined(deps: OperatorWebhookDependencies, incoming: Received, uploadedBy: string | undefined, cluster: string | undefined): Promise<IngestResult> {
  const others = (await latestStoredResources(deps.pool, incoming.digest)).filter((r) => groupOf(r) !== incoming.group);
  // The stored copies are masked (src/formats/mask-secrets.ts); masking the new resource too keeps the combination's
  // bytes, and so its hash, the same when the operator broadcasts the same resource again.
  maskSecretContext(incoming.resource);
  const resources = [incoming.resource, ...others.map((r) => r.resource)];
  const reports = [incoming.report, ...others.map((r) => r.report)];
  const combined = reports.reduce((n, r) => n + r.findings.length, 0);
  if (deps.maxFindings !== undefined && combined > deps.maxFindings)
    throw refusedAsTooLarge(deps.logger, tooManyFindings(combined, deps.maxFindings), 1, incoming.name);
  const items = resources.sort((a, b) => String(a.kind).localeCompare(String(b.kind)));
  const bytes = Buffer.from(canonicalJson({ apiVersion: "v1", kind: "List", items }), "utf8");
  return ingestReport(
    { pool: deps.pool, clock: deps.clock, changes: deps.changes, transactionHooks: deps.transactionHooks },
    { bytes, report: combineImageReports(reports), digests: [incoming.digest], source: "trivy-operator", uploadedBy, cluster },
  );
}

/** The operator does not read answers: a refusal is also logged, naming what was refused. */
function refusedAsTooLarge(logger: Logger, error: DomainError, resources: number, resource?: string): DomainError {
  logger.warn({ resource, resources, ...error.extra }, "trivy-operator report refused: more findings than MAX_REPORT_FINDINGS");
  return error;
}

function groupOf(r: { resource: Record<string, unknown> }): Received["group"] {
  return r.resource.kind === "ExposedSecretReport" ? "secrets" : "vulnerabilities";
}

/** The resources of the digest's most recently received operator report (deleted or not: see the file comment). */
async function latestStoredResources(pool: Pool, digest: string): Promise<Array<{ resource: Record<string, unknown>; report: DecodedReport }>> {
  const gzipBytes = await findLatestOperatorRawReport(pool, digest);
  if (!gzipBytes) return [];
  const { resources } = unwrapOperatorPayload(JSON.parse(gunzipSync(gzipBytes).toString("utf8")));
  const found = [];
  for (const resource of resources) {
    try {
      found.push({ resource: resource as Record<string, unknown>, report: decodeOperatorResource(resource) });
    } catch {
      /* stored long ago under an older decoder: not worth refusing the new resource over */
    }
  }
  return found;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Read-combine-ingest must not interleave for one digest, or two resources arriving together would each be
 * combined without the other. Across replicas an advisory lock serialises them; within a process the work runs one
 * at a time, so the lock's connection is held by one request at most and cannot starve the pool.
 */
function withDigestLock<T>(pool: Pool, digest: string, work: () => Promise<T>): Promise<T> {
  const run = queue.then(() => withSessionAdvisoryLock(pool, OPERATOR_LOCK_CLASS, digest, work));
  queue = run.catch(() => undefined);
  return run;
}
