import { Router, type Request, type Response } from "express";
import { decodeReport } from "../../formats";
import { refuseObviouslyTooManyFindings } from "../../formats/finding-count";
import { ingestReport, type IngestResult } from "../../ingest/ingest-report";
import { RawCapture } from "../../ingest/raw-capture";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { parseReportJson, readBody } from "../read-body";
import { sendRawReport } from "../send-raw-report";
import { uploadQuerySchema } from "../schemas";
import { parseOr400, parseOr422 } from "../validate";
import { z } from "zod";
import { authenticated, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { uploadResponseSchema } from "../schemas";
import { reportResponseSchema } from "../reading-response-schemas";
import { passTagSchema } from "../integration-schemas";

export function uploadAnswer(result: IngestResult) {
  return {
    report_id: result.reportId,
    duplicate: result.duplicate,
    format: result.format,
    images: result.images.map((row) => ({
      image_digest: row.image_digest,
      repository: row.repository,
      tags: row.tags,
      is_compliant: row.is_compliant,
      status: row.status,
      reasons: row.reasons,
      current_report_id: row.latest_report_id,
    })),
    newly_linked: result.linkedDigests,
    summary: result.summary,
  };
}

const reportIdSchema = z.object({ id: z.string().uuid("must be a report ID (UUID)") });

export function reportsRouter(deps: AppDependencies): Router {
  const router = Router();

  router.post("/v1/reports", requireScope(deps.authenticate, "reports:write"), async (req: Request, res: Response) => {
    const query = parseOr422(uploadQuerySchema, req.query, "query");
    const capture = new RawCapture();
    const bytes = await readBody(req, deps.config.maxReportBytes, { limitSetting: "MAX_REPORT_BYTES", onChunk: (chunk) => capture.write(chunk) });
    refuseObviouslyTooManyFindings(bytes, deps.config.maxReportFindings);
    // Parse, decode and store only once this replica's ingest memory budget has room (else 503 after a bounded wait).
    const result = await deps.ingestAdmission.run(bytes.length, async () => {
      const raw = capture.finish(bytes);
      // Held in an object ingest may empty: a 50 MB report's document is ~200 MB of heap, and it must not outlive
      // the masking of the stored copy while the findings are written.
      const parsed: { document: unknown } = { document: await parseReportJson(bytes) };
      const report = decodeReport(parsed.document, { format: query.format, maxFindings: deps.config.maxReportFindings });
      return ingestReport(
        { pool: deps.pool, clock: deps.clock, changes: deps.changes, transactionHooks: deps.transactionHooks },
        { bytes, raw, parsed, report, digests: query.digest, image: query.image, source: query.source, uploadedBy: req.principal?.name, cluster: query.cluster },
      );
    });
    // ECR_PASS_TAG: a compliant image on an ECR host gets the tag whatever the report's source (never undoes the ingest).
    const passTags = deps.ecr?.passTagger ? await deps.ecr.passTagger.afterIngest(result) : [];
    res.status(result.duplicate ? 200 : 201).json(passTags.length ? { ...uploadAnswer(result), pass_tags: passTags } : uploadAnswer(result));
  });

  router.get("/v1/reports/:id", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const { id } = parseOr400(reportIdSchema, req.params, "path");
    const { report, findings } = await deps.reading.report(id);
    res.json({
      id: report.id,
      received_at: report.receivedAt,
      scanned_at: report.scannedAt,
      format: report.format,
      scanner: report.scanner,
      scanner_version: report.scannerVersion,
      artifact_name: report.artifactName,
      artifact_type: report.artifactType,
      config_digest: report.configDigest,
      os_family: report.osFamily,
      os_name: report.osName,
      report_sha256: report.reportSha256,
      source: report.source,
      uploaded_by: report.uploadedBy,
      finding_count: report.findingCount,
      deleted_at: report.deletedAt,
      pruned_at: report.prunedAt,
      images: report.images.map((i) => ({ image_digest: i.imageDigest, repository: i.repository, tags: i.tags })),
      findings_by_kind_and_severity: findings,
      raw_url: `/v1/reports/${report.id}/raw`,
    });
  });

  router.get("/v1/reports/:id/raw", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const { id } = parseOr400(reportIdSchema, req.params, "path");
    await sendRawReport(req, res, id, await deps.reading.rawReport(id));
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  const uploadWithPassTags = uploadResponseSchema.extend({
    pass_tags: z.array(passTagSchema).optional().describe("ECR_PASS_TAG outcomes, when it is set and an image is on an ECR host"),
  });
  registry.registerPath({
    method: "post",
    path: "/v1/reports",
    tags: ["Ingest"],
    summary: "Upload a scan report",
    description:
      "Trivy JSON (SchemaVersion 2), Trivy's SARIF 2.1.0, Trivy's CycloneDX with vulnerabilities, or a Trivy Operator " +
      "VulnerabilityReport. The images are the union of Metadata.RepoDigests, the digest parameters and the digest of " +
      "image=repo@sha256:…; a report with none is refused (422 missing_digest). Send Content-Encoding: gzip to compress. " +
      "At most MAX_REPORT_FINDINGS findings per report (413 too_many_findings); when this replica's ingest memory " +
      "budget (INGEST_MEMORY_BUDGET_BYTES) stays full for INGEST_ADMISSION_WAIT_MS, 503 ingest_busy with Retry-After. " +
      "A refused request writes nothing.",
    ...authenticated("reports:write"),
    request: {
      query: uploadQuerySchema,
      headers: z.object({ "content-encoding": z.enum(["gzip", "identity"]).optional() }),
      body: {
        required: true,
        description: "The report as produced by the scanner (MAX_REPORT_BYTES at most, after decompression)",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
    responses: {
      201: jsonResponse("A new report, with the verdict of every image it names", uploadWithPassTags),
      200: jsonResponse(
        "The same bytes were uploaded before (duplicate: true); nothing of the report was stored again, but a digest it names for the first time (newly_linked) was linked and judged",
        uploadWithPassTags,
      ),
      ...problems(400, 401, 403, 413, 415, 422, 429, 503),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/reports/{id}",
    tags: ["Reading"],
    summary: "A stored report: metadata, images and finding counts",
    ...authenticated("compliance:read"),
    request: { params: reportIdSchema },
    responses: { 200: jsonResponse("The report", reportResponseSchema), ...problems(400, 401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/reports/{id}/raw",
    tags: ["Reading"],
    summary: "The report's bytes as uploaded",
    description: "Served gzip-encoded to clients that accept gzip. 410 report_pruned when history retention deleted the copy (the report's metadata and counts stay).",
    ...authenticated("compliance:read"),
    request: { params: reportIdSchema },
    responses: {
      200: { description: "The uploaded JSON", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
      ...problems(400, 401, 403, 404, 410, 503),
    },
  });
};
