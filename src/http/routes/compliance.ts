import { Router, type Request, type Response } from "express";
import { badRequest } from "../../domain/errors";
import type { LookupContext } from "../../lookup/lookup-compliance";
import type { CachedAnswer } from "../../lookup/verdict-cache";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { parseJson, readBody } from "../read-body";
import { batchCheckBodySchema, complianceByReferenceQuerySchema, complianceQuerySchema } from "../schemas";
import { parseOr400 } from "../validate";

const BATCH_BODY_LIMIT = 256 * 1024;

/** Sends the pre-serialised answer: small JSON with Content-Length, as Kyverno's apiCall wants. */
function sendAnswer(res: Response, result: CachedAnswer): void {
  res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(result.json), "Cache-Control": "no-store" });
  res.end(result.json);
}

function context(req: Request, namespace: string | null | undefined, imageRef: string | null | undefined): LookupContext {
  return { namespace: namespace ?? null, imageRef: imageRef ?? null, tokenId: req.principal?.id ?? null, tokenName: req.principal?.name ?? null };
}

export function complianceRouter(deps: AppDependencies): Router {
  const router = Router();
  const canRead = requireScope(deps.authenticateLookup, "compliance:read");

  router.get("/v1/images/:digest/compliance", canRead, async (req, res) => {
    const query = parseOr400(complianceQuerySchema, req.query, "query");
    const digest = String(req.params.digest);
    sendAnswer(res, await deps.lookup.byDigest(digest, context(req, query.namespace, query.image ?? digest)));
  });

  router.get("/v1/compliance", canRead, async (req, res) => {
    const query = parseOr400(complianceByReferenceQuerySchema, req.query, "query");
    sendAnswer(res, await deps.lookup.byReference(query.image, context(req, query.namespace, query.image)));
  });

  // Kyverno sends the apiCall body with no Content-Type unless the policy sets one: read the bytes ourselves.
  router.post("/v1/compliance/check", canRead, async (req, res) => {
    const bytes = await readBody(req, BATCH_BODY_LIMIT);
    const json = parseJson(bytes);
    if (json === null || typeof json !== "object" || Array.isArray(json))
      throw badRequest("invalid_request", 'The body must be a JSON object: {"images": ["repo@sha256:…", …], "namespace": "…"}.');
    const body = parseOr400(batchCheckBodySchema, json, "body");
    const answer = await deps.lookup.batch(body.images, context(req, body.namespace, null));
    const text = JSON.stringify(answer);
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
    res.end(text);
  });

  return router;
}
