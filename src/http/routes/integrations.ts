import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { DomainError } from "../../domain/errors";
import { assertConfiguredRegistries, importEcrImage, listEcrImages, parseEcrEvents, type EcrImportResult } from "../../integrations/ecr";
import { receiveOperatorWebhook } from "../../integrations/trivy-operator";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import {
  ecrEventsResponseSchema,
  ecrImagesQuerySchema,
  ecrImagesResponseSchema,
  ecrImportBodySchema,
  ecrImportResponseSchema,
  operatorBatchResponseSchema,
  operatorDeleteResponseSchema,
} from "../integration-schemas";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { MAX_JSON_DEPTH } from "../hardening";
import { parseJson, parseReportJson, readBody } from "../read-body";
import { refuseObviouslyTooManyFindings } from "../../formats/finding-count";
import { clusterNameSchema, uploadResponseSchema } from "../schemas";
import { DEFAULT_CLUSTER } from "../../domain/workload";
import { parseOr422 } from "../validate";
import { uploadAnswer } from "./reports";

/** Where the operator's webhook comes from: OPERATOR_WEBHOOK_BROADCAST_URL=…/v1/integrations/trivy-operator?cluster=prod. */
const operatorWebhookQuerySchema = z.object({
  cluster: clusterNameSchema.default(DEFAULT_CLUSTER).describe("The cluster the operator runs in: its reports' workload labels are recorded there (default: default)"),
});

/** ECR requests and events are small JSON documents; operator resources are reports. */
const SMALL_BODY_BYTES = 1024 * 1024;

function ecrAnswer(imported: EcrImportResult) {
  return { ...uploadAnswer(imported.result), ecr_scan_status: imported.scanStatus, pass_tag: imported.passTag };
}

export function integrationsRouter(deps: AppDependencies): Router {
  const router = Router();
  const write = requireScope(deps.authenticate, "reports:write");
  const ecr = () => {
    if (!deps.ecr) throw new DomainError("unavailable", "ecr_not_configured", "The ECR integration is not available in this service.");
    return deps.ecr;
  };
  const importDeps = () => ({
    pool: deps.pool,
    clock: deps.clock,
    changes: deps.changes,
    transactionHooks: deps.transactionHooks,
    clients: ecr().clients,
    passTagger: ecr().passTagger,
    // The same cap and memory budget as uploads: an image's findings are a report however they arrive.
    maxFindings: deps.config.maxReportFindings,
    admission: deps.ingestAdmission,
  });

  router.post("/v1/integrations/ecr/import", write, async (req: Request, res: Response) => {
    const body = parseOr422(ecrImportBodySchema, parseJson(await readBody(req, SMALL_BODY_BYTES)), "body");
    const imported = await importEcrImage(importDeps(), {
      repository: body.repository,
      imageDigest: body.image_digest,
      imageTag: body.image_tag,
      registryId: body.registry_id,
      uploadedBy: req.principal?.name,
    });
    res.status(imported.result.duplicate ? 200 : 201).json(ecrAnswer(imported));
  });

  router.post("/v1/integrations/ecr/events", write, async (req: Request, res: Response) => {
    const body = parseJson(await readBody(req, SMALL_BODY_BYTES));
    const images = parseEcrEvents(body);
    await assertConfiguredRegistries(images, ecr().registries, Array.isArray(body));
    const results = [];
    for (const image of images) {
      const imported = await importEcrImage(importDeps(), {
        repository: image.repository,
        imageDigest: image.imageDigest,
        registryId: image.registryId,
        region: image.region,
        source: image.kind === "Inspector2 Scan" ? "ecr-inspector-event" : "ecr-scan-event",
        uploadedBy: req.principal?.name,
      });
      results.push({ ...ecrAnswer(imported), event: image.kind });
    }
    res.status(results.every((r) => r.duplicate) ? 200 : 201).json({ results });
  });

  router.get("/v1/integrations/ecr/images", write, async (req: Request, res: Response) => {
    const query = parseOr422(ecrImagesQuerySchema, req.query, "query");
    const images = await listEcrImages(ecr().clients, { repository: query.repository, registryId: query.registry_id });
    res.json({ repository: query.repository, images });
  });

  router.post("/v1/integrations/trivy-operator", write, async (req: Request, res: Response) => {
    const { cluster } = parseOr422(operatorWebhookQuerySchema, req.query, "query");
    const bytes = await readBody(req, deps.config.maxReportBytes, { limitSetting: "MAX_REPORT_BYTES" });
    try {
      refuseObviouslyTooManyFindings(bytes, deps.config.maxReportFindings);
    } catch (error) {
      // The operator does not read answers: the log is where this refusal is seen.
      deps.logger.warn({ ...(error as DomainError).extra }, "trivy-operator report refused: more findings than MAX_REPORT_FINDINGS");
      throw error;
    }
    // As for POST /v1/reports: parsed (a slice at a time when large) and ingested only within the memory budget.
    const outcome = await deps.ingestAdmission.run(bytes.length, async () =>
      receiveOperatorWebhook(
        {
          pool: deps.pool,
          lockPool: deps.sessionPool,
          clock: deps.clock,
          logger: deps.logger,
          changes: deps.changes,
          transactionHooks: deps.transactionHooks,
          maxFindings: deps.config.maxReportFindings,
        },
        { json: await parseReportJson(bytes, MAX_JSON_DEPTH), uploadedBy: req.principal?.name, cluster },
      ),
    );
    if (!("results" in outcome)) {
      res.json(outcome);
      return;
    }
    const status = outcome.results.every((r) => r.duplicate) ? 200 : 201;
    if (outcome.results.length === 1) res.status(status).json(uploadAnswer(outcome.results[0]!));
    else res.status(status).json({ verb: outcome.verb, results: outcome.results.map(uploadAnswer) });
  });

  return router;
}

const ECR_PROBLEMS = [401, 403, 404, 409, 413, 422, 502, 503];

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "post",
    path: "/v1/integrations/ecr/import",
    tags: ["Integrations"],
    summary: "Import an image's Amazon ECR scan findings (basic and enhanced/Inspector) as a report of format ecr",
    description:
      "Reads DescribeImages and every page of DescribeImageScanFindings, stores the merged pages as the report, and " +
      "answers like POST /v1/reports. 409 `ecr_scan_not_complete` while the scan is not COMPLETE/ACTIVE; 404 " +
      "`ecr_repository_not_found`, `ecr_image_not_found`, `ecr_scan_not_found`; 503 `ecr_throttled`, " +
      "`ecr_credentials_missing`; 502 `ecr_bad_response`, `ecr_access_denied`. Nothing is written on any error.",
    ...authenticated("reports:write"),
    request: { body: jsonBody(ecrImportBodySchema) },
    responses: {
      201: jsonResponse("Imported as a new report", ecrImportResponseSchema),
      200: jsonResponse("The same findings were imported before (duplicate: true)", ecrImportResponseSchema),
      ...problems(...ECR_PROBLEMS),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/integrations/ecr/events",
    tags: ["Integrations"],
    summary: "EventBridge `ECR Image Scan` / `Inspector2 Scan` events (from an API destination): import the image named",
    ...authenticated("reports:write"),
    request: { body: jsonBody(z.unknown(), "One EventBridge event, or an array of events") },
    responses: {
      201: jsonResponse("Imported", ecrEventsResponseSchema),
      200: jsonResponse("Every import was a duplicate", ecrEventsResponseSchema),
      ...problems(...ECR_PROBLEMS),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/integrations/ecr/images",
    tags: ["Integrations"],
    summary: "Every image of an ECR repository (DescribeImages, all pages), as `scan-registry ecr sync` walks them",
    ...authenticated("reports:write"),
    request: { query: ecrImagesQuerySchema },
    responses: { 200: jsonResponse("The repository's images, newest push first", ecrImagesResponseSchema), ...problems(401, 403, 404, 422, 502, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/integrations/trivy-operator",
    tags: ["Integrations"],
    summary: "Trivy Operator webhook broadcast: a VulnerabilityReport / ExposedSecretReport, or {verb, operatorObject}",
    description:
      "The image is report.artifact.digest (422 `missing_digest` without it, also logged). A vulnerability report and a " +
      "secret report of one digest are combined into one report. verb=delete marks the digest's operator reports deleted " +
      "and keeps the verdict. The labels trivy-operator.resource.{kind,name,namespace} and trivy-operator.container.name " +
      "record where the image runs, in the cluster named by ?cluster= (these never mark other containers gone). " +
      "MAX_REPORT_FINDINGS bounds the payload and each combined report (413 too_many_findings); the body is admitted " +
      "against the ingest memory budget like an upload (503 ingest_busy with Retry-After).",
    ...authenticated("reports:write"),
    request: { query: operatorWebhookQuerySchema, body: jsonBody(z.unknown(), "The operator's webhook body") },
    responses: {
      201: jsonResponse("Stored (a List of several resources answers {verb, results})", z.union([uploadResponseSchema, operatorBatchResponseSchema])),
      200: jsonResponse("A duplicate, or the answer to a delete", z.union([uploadResponseSchema, operatorBatchResponseSchema, operatorDeleteResponseSchema])),
      ...problems(400, 401, 403, 413, 415, 422, 503),
    },
  });
};
