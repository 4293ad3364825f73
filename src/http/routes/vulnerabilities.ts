import { Router } from "express";
import { findVulnerabilityWithImages } from "../../db/reading-repository";
import { notFound } from "../../domain/errors";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { vulnerabilityIdSchema } from "../reading-schemas";
import { parseOr400 } from "../validate";

export function vulnerabilitiesRouter(deps: AppDependencies): Router {
  const router = Router();
  router.get("/v1/vulnerabilities/:id", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const id = parseOr400(vulnerabilityIdSchema, String(req.params.id), "path");
    const found = await findVulnerabilityWithImages(deps.pool, id);
    if (!found.vulnerability && found.images.length === 0) throw notFound("vulnerability_not_found", `No stored report mentions ${id}.`);
    res.json({ ...(found.vulnerability ?? { id }), images: found.images, image_count: found.images.length });
  });
  return router;
}
