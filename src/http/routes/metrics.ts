import { Router, type RequestHandler } from "express";
import { z } from "zod";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { authenticated, problems, type OpenAPIRegistry } from "../openapi-registry";

/** GET /metrics for Prometheus: needs a compliance:read (or admin) token unless METRICS_AUTH=none. */
export function metricsRouter(deps: AppDependencies): Router {
  const router = Router();
  const guard: RequestHandler[] = deps.config.metricsAuth === "none" ? [] : [requireScope(deps.authenticate, "compliance:read")];
  router.get("/metrics", ...guard, async (_req, res) => {
    const text = await deps.metrics.registry.metrics();
    res.status(200).set("Content-Type", deps.metrics.registry.contentType).set("Cache-Control", "no-store").end(text);
  });
  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/metrics",
    tags: ["Operations"],
    summary: "Prometheus metrics",
    description:
      "Prometheus text format: http_request_duration_seconds and the scan_registry_* metrics (see docs/operations.md). " +
      "Needs a token with compliance:read (or admin) unless METRICS_AUTH=none.",
    ...authenticated("compliance:read", { tokenOptional: true }), // METRICS_AUTH=none
    responses: {
      200: { description: "Metrics in the Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } },
      ...problems(401, 403),
    },
  });
};
