import { Router } from "express";
import type { AppDependencies } from "../app-dependencies";
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
