import { Router, type Request } from "express";
import { badRequest } from "../../domain/errors";
import type { PolicyRules, PolicyVersion } from "../../domain/policy";
import { dryRunPolicy } from "../../policy/dry-run";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { policyEnvelopeBodySchema, policyRulesBodySchema } from "../policy-schemas";
import { parseJson, readBody } from "../read-body";
import { parseOr422 } from "../validate";
import { z } from "zod";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { dryRunResponseSchema, policyPutResponseSchema, policyVersionResponseSchema, policyVersionsResponseSchema, reevaluateResponseSchema } from "../policy-schemas";

const POLICY_BODY_LIMIT = 64 * 1024;

/**
 * The candidate policy of a PUT or dry-run: the rules object, or GET /v1/policy's answer ({version, rules, …}) sent
 * back edited. Omitted rules take their defaults; an unknown rule, a negative count or a severity outside Trivy's
 * five is a 422 with paths.
 */
async function readPolicyBody(req: Request): Promise<PolicyRules> {
  const json = parseJson(await readBody(req, POLICY_BODY_LIMIT));
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw badRequest("invalid_request", 'The body must be a JSON object of policy rules, e.g. {"max_severity_counts": {"CRITICAL": 0}}.');
  if ("rules" in json) return parseOr422(policyEnvelopeBodySchema, json, "body").rules;
  return parseOr422(policyRulesBodySchema, json, "body");
}

function policyVersionAnswer(p: PolicyVersion) {
  return { version: p.version, rules: p.rules, created_at: p.createdAt.toISOString(), created_by: p.createdBy };
}

export function policyRouter(deps: AppDependencies): Router {
  const router = Router();
  const policy = deps.policy;
  const canRead = requireScope(deps.authenticate, "compliance:read");
  const canWrite = requireScope(deps.authenticate, "policy:write");

  router.get("/v1/policy", canRead, async (_req, res) => {
    res.json(policyVersionAnswer(await policy.current()));
  });

  router.get("/v1/policy/versions", canRead, async (_req, res) => {
    res.json({ items: (await policy.versions()).map(policyVersionAnswer) });
  });

  router.put("/v1/policy", canWrite, async (req, res) => {
    const rules = await readPolicyBody(req);
    const result = await policy.set(rules, req.principal?.name ?? null);
    deps.logger.info({ version: result.policy.version, by: result.policy.createdBy, reevaluated: result.reevaluated, changed: result.changed }, "policy changed");
    res.json({ ...policyVersionAnswer(result.policy), reevaluated: result.reevaluated, changed: result.changed });
  });

  // policy:write, not compliance:read: a dry-run evaluates every stored image, a policy author's tool, not a reader's.
  router.post("/v1/policy/dry-run", canWrite, async (req, res) => {
    const rules = await readPolicyBody(req);
    const result = await dryRunPolicy(deps.pool, deps.clock, rules);
    res.json({
      compared_with_version: result.comparedWithVersion,
      rules,
      evaluated: result.evaluated,
      changed: result.changed,
      truncated: result.truncated,
      changes: result.changes.map((c) => ({
        image_digest: c.imageDigest,
        repository: c.repository,
        from: { is_compliant: c.from.isCompliant, status: c.from.status },
        to: { is_compliant: c.to.isCompliant, status: c.to.status, reasons: c.to.reasons },
      })),
    });
  });

  router.post("/v1/reevaluate", requireScope(deps.authenticate, "admin"), async (_req, res) => {
    const result = await policy.reevaluateAll();
    deps.logger.info(result, "re-evaluated every image on request");
    res.json(result);
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  const rulesBody = jsonBody(
    z.union([policyRulesBodySchema, policyEnvelopeBodySchema]),
    "The rules (omitted rules take their defaults), bare or as GET /v1/policy answers them ({rules, …})",
  );
  registry.registerPath({
    method: "get",
    path: "/v1/policy",
    tags: ["Policy"],
    summary: "The active policy and its version",
    ...authenticated("compliance:read"),
    responses: { 200: jsonResponse("The active policy", policyVersionResponseSchema), ...problems(401, 403, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/policy/versions",
    tags: ["Policy"],
    summary: "Every policy version, newest first",
    ...authenticated("compliance:read"),
    responses: { 200: jsonResponse("The versions", policyVersionsResponseSchema), ...problems(401, 403, 503) },
  });
  registry.registerPath({
    method: "put",
    path: "/v1/policy",
    tags: ["Policy"],
    summary: "Set the whole policy: a new version; every stored image is re-evaluated before the answer",
    ...authenticated("policy:write"),
    request: { body: rulesBody },
    responses: { 200: jsonResponse("The new version", policyPutResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/policy/dry-run",
    tags: ["Policy"],
    summary: "Which verdicts would a candidate policy change? Nothing is written",
    ...authenticated("policy:write"),
    request: { body: rulesBody },
    responses: { 200: jsonResponse("The changes", dryRunResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/reevaluate",
    tags: ["Policy"],
    summary: "Re-evaluate every stored image under the active policy",
    ...authenticated("admin"),
    responses: { 200: jsonResponse("What was re-evaluated", reevaluateResponseSchema), ...problems(401, 403, 503) },
  });
};
