import { Router } from "express";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { decisionsQuerySchema } from "../policy-schemas";
import { parseListQuery } from "../validate";
import { authenticated, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { decisionsResponseSchema } from "../policy-schemas";

/** The admission decision log (what every lookup answered), newest first with cursor pagination. */
export function decisionsRouter(deps: AppDependencies): Router {
  const router = Router();

  router.get("/v1/decisions", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const query = parseListQuery(decisionsQuerySchema, req.query, { is_compliant: ["true", "false"] }, "422");
    const page = await deps.reading.decisions({
      imageDigest: query.image_digest,
      isCompliant: query.is_compliant,
      namespace: query.namespace,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
      limit: query.limit,
      cursor: query.cursor,
    });
    res.json({
      items: page.items.map((d) => ({ ...d, decided_at: d.decided_at.toISOString() })),
      next_cursor: page.nextCursor,
    });
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/v1/decisions",
    tags: ["Reading"],
    summary: "The admission decision log, newest first",
    ...authenticated("compliance:read"),
    request: { query: decisionsQuerySchema },
    responses: { 200: jsonResponse("A page of decisions", decisionsResponseSchema), ...problems(401, 403, 422, 503) },
  });
};
