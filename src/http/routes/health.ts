import { Router } from "express";
import type { AppDependencies } from "../app-dependencies";
import { z } from "zod";
import { PUBLIC, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { problem, sendProblem } from "../problem";

export function healthRouter(deps: AppDependencies): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    if (await deps.isDatabaseReady()) res.json({ status: "ready", database: "ok" });
    else sendProblem(res, problem(503, "database_unavailable", "The database is not reachable."));
  });
  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/healthz",
    tags: ["Operations"],
    summary: "Liveness: the process is up",
    ...PUBLIC,
    responses: { 200: jsonResponse("The process answers", z.object({ status: z.literal("ok") })) },
  });
  registry.registerPath({
    method: "get",
    path: "/readyz",
    tags: ["Operations"],
    summary: "Readiness: the database is reachable",
    ...PUBLIC,
    responses: {
      200: jsonResponse("Ready to serve", z.object({ status: z.literal("ready"), database: z.literal("ok") })),
      ...problems(503),
    },
  });
};
