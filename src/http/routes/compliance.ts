import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { badRequest } from "../../domain/errors";
import type { LookupContext } from "../../lookup/lookup-compliance";
import type { CachedAnswer } from "../../lookup/verdict-cache";
import type { AppDependencies } from "../app-dependencies";
import type { LookupHeaderTemplate } from "../lookup-fast-path";
import { answerDigestLookup, BATCH_BODY_LIMIT, BATCH_ROUTE, LOOKUP_ANSWER_HEADERS, LOOKUP_ROUTE, writeLookupAnswer } from "../lookup-answer";
import { requireScope } from "../authenticate";
import { parseJson, readBody } from "../read-body";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import {
  batchCheckBodySchema,
  batchCheckResponseSchema,
  complianceAnswerSchema,
  complianceByReferenceQuerySchema,
  complianceQuerySchema,
  digestSchema,
} from "../schemas";
import { parseOr400 } from "../validate";

/**
 * Sends the pre-serialised answer: small JSON with Content-Length, as Kyverno's apiCall wants. The headers of a
 * digest lookup become the template the fast path (src/http/lookup-fast-path.ts) replays for cached answers.
 */
function sendAnswer(res: Response, result: CachedAnswer, template?: LookupHeaderTemplate): void {
  for (const [name, value] of Object.entries(LOOKUP_ANSWER_HEADERS)) res.setHeader(name, value);
  template?.capture(res);
  writeLookupAnswer(res, result, {});
}

function context(req: Request, namespace: string | null | undefined, imageRef: string | null | undefined): LookupContext {
  return {
    namespace: namespace ?? null,
    imageRef: imageRef ?? null,
    tokenId: req.principal?.id ?? null,
    tokenName: req.principal?.name ?? null,
    anonymous: !req.principal || req.principal.kind === "anonymous",
  };
}

export function complianceRouter(deps: AppDependencies): Router {
  const router = Router();
  const canRead = requireScope(deps.authenticateLookup, "compliance:read");

  router.get(LOOKUP_ROUTE, canRead, async (req, res) => {
    const query = parseOr400(complianceQuerySchema, req.query, "query");
    sendAnswer(res, await answerDigestLookup(deps.lookup, String(req.params.digest), query, req.principal), deps.lookupHeaders);
  });

  router.get("/v1/compliance", canRead, async (req, res) => {
    const query = parseOr400(complianceByReferenceQuerySchema, req.query, "query");
    sendAnswer(res, await deps.lookup.byReference(query.image, context(req, query.namespace, query.image)));
  });

  // Kyverno sends the apiCall body with no Content-Type unless the policy sets one: read the bytes ourselves.
  router.post(BATCH_ROUTE, canRead, async (req, res) => {
    const bytes = await readBody(req, BATCH_BODY_LIMIT);
    const json = parseJson(bytes);
    if (json === null || typeof json !== "object" || Array.isArray(json))
      throw badRequest("invalid_request", 'The body must be a JSON object: {"images": ["repo@sha256:…", …], "namespace": "…"}.');
    const body = parseOr400(batchCheckBodySchema, json, "body");
    const answer = await deps.lookup.batch(body.images, context(req, body.namespace, null));
    const text = JSON.stringify(answer);
    // The headers of this answer become the template the fast path replays for batches answered from the cache.
    for (const [name, value] of Object.entries(LOOKUP_ANSWER_HEADERS)) res.setHeader(name, value);
    deps.batchHeaders?.capture(res);
    res.writeHead(200, { "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  });

  return router;
}

const LOOKUP_SECURITY = authenticated("compliance:read", { tokenOptional: true }); // LOOKUP_AUTH=none
const LOOKUP_NOTE =
  "An unknown image is HTTP 200 with is_compliant: false and status not_scanned (unless the policy allows unscanned images): " +
  "Kyverno turns any non-2xx into an error. Every answer is recorded in the admission decision log.";

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/v1/images/{digest}/compliance",
    tags: ["Admission"],
    summary: "May this image digest run? (Kyverno apiCall)",
    description: LOOKUP_NOTE,
    ...LOOKUP_SECURITY,
    request: { params: z.object({ digest: digestSchema }), query: complianceQuerySchema },
    responses: { 200: jsonResponse("The verdict", complianceAnswerSchema), ...problems(400, 401, 403, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/compliance",
    tags: ["Admission"],
    summary: "May this image reference run? A reference with a digest, or a tag that a stored report names",
    description: LOOKUP_NOTE,
    ...LOOKUP_SECURITY,
    request: { query: complianceByReferenceQuerySchema },
    responses: { 200: jsonResponse("The verdict", complianceAnswerSchema), ...problems(400, 401, 403, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/compliance/check",
    tags: ["Admission"],
    summary: "May all these images run? One call per Pod",
    description: `${LOOKUP_NOTE} The body is read as JSON with or without a Content-Type header (Kyverno sends none unless the policy sets one).`,
    ...LOOKUP_SECURITY,
    request: { body: jsonBody(batchCheckBodySchema) },
    responses: { 200: jsonResponse("One result per image; allowed is true when every image is compliant", batchCheckResponseSchema), ...problems(400, 401, 403, 413, 503) },
  });
};
