import { Router } from "express";
import { notFound } from "../../domain/errors";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { vulnerabilityIdSchema, vulnerabilityQuerySchema } from "../reading-schemas";
import { decodeImageCursor, encodeImageCursor } from "../cursors";
import { parseOr400 } from "../validate";
import { z } from "zod";
import { authenticated, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { vulnerabilityResponseSchema } from "../reading-response-schemas";
import { workloadItem } from "./runtime";

/** At most this many running containers in `running`; GET /v1/workloads?vulnerability_id= pages through all of them. */
export const RUNNING_LIMIT = 1000;

export function vulnerabilitiesRouter(deps: AppDependencies): Router {
  const router = Router();
  router.get("/v1/vulnerabilities/:id", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const id = parseOr400(vulnerabilityIdSchema, String(req.params.id), "path");
    const query = parseOr400(vulnerabilityQuerySchema, req.query, "query");
    const after = query.cursor === undefined ? undefined : decodeImageCursor(query.cursor);
    const found = await deps.reading.vulnerability(id, { limit: query.limit, after });
    if (!found.vulnerability && found.imageCount === 0) throw notFound("vulnerability_not_found", `No stored report mentions ${id}.`);
    // Only for an ID a report mentions: an unknown ID (a typo, a scan of IDs) costs one query, not two.
    const running = await deps.reading.runningWithVulnerability(id, RUNNING_LIMIT);
    res.json({
      ...(found.vulnerability ?? { id }),
      images: found.images,
      image_count: found.imageCount,
      next_cursor: found.next ? encodeImageCursor(found.next) : null,
      running: running.items.map(workloadItem),
      running_count: running.count,
    });
  });
  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/v1/vulnerabilities/{id}",
    tags: ["Reading"],
    summary: "A vulnerability, the images that have it now (by repository, then digest; cursor pagination) and the containers running them",
    description:
      "`running` lists the workload containers running now whose image's current report has the vulnerability (by cluster, " +
      "namespace, kind, name, container; at most 1,000, `running_count` counts all; GET /v1/workloads?vulnerability_id= pages them).",
    ...authenticated("compliance:read"),
    request: { params: z.object({ id: vulnerabilityIdSchema }), query: vulnerabilityQuerySchema },
    responses: { 200: jsonResponse("The vulnerability", vulnerabilityResponseSchema), ...problems(400, 401, 403, 404, 503) },
  });
};
