import { Router } from "express";
import type { ImageScanRow } from "../../db/image-scan-repository";
import { isBigintCursor } from "../../domain/cursor";
import { badRequest } from "../../domain/errors";
import { isDigest } from "../../domain/image-reference";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { listFindingsQuerySchema, listImagesQuerySchema } from "../reading-schemas";
import { parseListQuery } from "../validate";
import { FINDING_KINDS, SEVERITIES } from "../../domain/severity";
import { STATUSES } from "../../domain/verdict";
import { z } from "zod";
import { authenticated, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { findingsPageSchema, imageDetailResponseSchema, imageListResponseSchema } from "../reading-response-schemas";
import { digestSchema } from "../schemas";

export function imageRow(row: ImageScanRow) {
  return {
    image_digest: row.image_digest,
    repository: row.repository,
    tags: row.tags,
    is_compliant: row.is_compliant,
    status: row.status,
    reasons: row.reasons,
    latest_report_id: row.latest_report_id,
    scanned_at: row.scanned_at,
    policy_version: row.policy_version,
    evaluated_at: row.evaluated_at,
    valid_until: row.valid_until,
    first_seen_at: row.first_seen_at,
    summary: {
      critical: row.critical_count,
      high: row.high_count,
      medium: row.medium_count,
      low: row.low_count,
      unknown: row.unknown_count,
      fixable: row.fixable_count,
      secrets: row.secret_count,
      misconfigurations: row.misconfiguration_count,
    },
  };
}

export function imagesRouter(deps: AppDependencies): Router {
  const router = Router();
  const canRead = requireScope(deps.authenticate, "compliance:read");

  router.get("/v1/images", canRead, async (req, res) => {
    const query = parseListQuery(listImagesQuerySchema, req.query, { status: STATUSES });
    if (query.cursor !== undefined && !isDigest(query.cursor)) throw badRequest("invalid_cursor", "The cursor is not one this API returned.");
    const page = await deps.reading.listImages({
      status: query.status,
      repository: query.repository,
      search: query.q,
      limit: query.limit,
      after: query.cursor,
    });
    res.json({ items: page.items.map(imageRow), next_cursor: page.nextCursor });
  });

  router.get("/v1/images/:digest/findings", canRead, async (req, res) => {
    const digest = String(req.params.digest);
    if (!isDigest(digest)) throw badRequest("invalid_digest", "The digest must be sha256: followed by 64 lowercase hex digits.");
    const query = parseListQuery(listFindingsQuerySchema, req.query, { severity: SEVERITIES, kind: FINDING_KINDS, fixable: ["true", "false"] });
    if (query.cursor !== undefined && !isBigintCursor(query.cursor)) throw badRequest("invalid_cursor", "The cursor is not one this API returned.");
    const row = await deps.reading.image(digest);
    const severities = query.severity === undefined ? undefined : Array.isArray(query.severity) ? query.severity : [query.severity];
    const page = await deps.reading.imageFindings(digest, {
      severities,
      kind: query.kind,
      fixable: query.fixable,
      limit: query.limit,
      afterId: query.cursor,
    });
    res.json({
      image_digest: digest,
      report_id: row.latest_report_id,
      items: page.items,
      next_cursor: page.nextCursor,
    });
  });

  router.get("/v1/images/:digest", canRead, async (req, res) => {
    const digest = String(req.params.digest);
    if (!isDigest(digest)) throw badRequest("invalid_digest", "The digest must be sha256: followed by 64 lowercase hex digits.");
    const row = await deps.reading.image(digest);
    // The API's history leaves out uploaded_by (the dashboard shows it to signed-in people).
    const reports = (await deps.reading.imageReports(digest)).map(({ uploaded_by: _by, ...report }) => report);
    res.json({ ...imageRow(row), reports });
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  const params = z.object({ digest: digestSchema });
  registry.registerPath({
    method: "get",
    path: "/v1/images",
    tags: ["Reading"],
    summary: "Stored images and their current verdicts (cursor pagination)",
    ...authenticated("compliance:read"),
    request: { query: listImagesQuerySchema },
    responses: { 200: jsonResponse("A page of images", imageListResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/images/{digest}",
    tags: ["Reading"],
    summary: "An image's current verdict, counts and reports",
    ...authenticated("compliance:read"),
    request: { params },
    responses: { 200: jsonResponse("The image", imageDetailResponseSchema), ...problems(400, 401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/images/{digest}/findings",
    tags: ["Reading"],
    summary: "The findings of an image's current report, with exception marks",
    ...authenticated("compliance:read"),
    request: { params, query: listFindingsQuerySchema },
    responses: { 200: jsonResponse("A page of findings", findingsPageSchema), ...problems(400, 401, 403, 404, 422, 503) },
  });
};
