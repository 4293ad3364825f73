import { Router } from "express";
import { z } from "zod";
import type { ExceptionRow } from "../../policy/exception-service";
import type { ReevaluationOutcome } from "../../policy/policy-service";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { exceptionCreateBodySchema, exceptionExportQuerySchema, EXCEPTION_LIST_STATES, exceptionIdSchema, exceptionListQuerySchema, normalizeVulnerabilityId } from "../policy-schemas";
import { VEX_BODY_LIMIT, vexDocumentSchema, vexImportQuerySchema, vexImportResponseSchema } from "../vex-schemas";
import { parseJson, readBody } from "../read-body";
import { parseListQuery, parseOr400, parseOr422, withFieldPrefix } from "../validate";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { exceptionChangeResponseSchema, exceptionListResponseSchema } from "../policy-schemas";

const EXCEPTION_BODY_LIMIT = 16 * 1024;

function exceptionAnswer(row: ExceptionRow) {
  return {
    id: row.id,
    vulnerability_id: row.vulnerability_id,
    repository: row.repository,
    image_digest: row.image_digest,
    reason: row.reason,
    created_by: row.created_by,
    requested_by: row.requested_by,
    justification: row.justification,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    revoked_by: row.revoked_by,
    state: row.state,
  };
}

const changeAnswer = (row: ExceptionRow & ReevaluationOutcome) => ({ ...exceptionAnswer(row), reevaluated: row.reevaluated, changed: row.changed });

export function exceptionsRouter(deps: AppDependencies): Router {
  const router = Router();
  const exceptions = deps.exceptions;
  const canWrite = requireScope(deps.authenticate, "policy:write");

  router.get("/v1/exceptions", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const query = parseListQuery(exceptionListQuerySchema, req.query, { state: EXCEPTION_LIST_STATES }, "422");
    const rows = await exceptions.list({ state: query.state, vulnerabilityId: query.vulnerability_id, imageDigest: query.image_digest });
    res.json({ items: rows.map(exceptionAnswer) });
  });

  router.get("/v1/exceptions/export", requireScope(deps.authenticate, "compliance:read"), async (req, res) => {
    const query = parseOr422(exceptionExportQuerySchema, req.query, "query");
    const out = await exceptions.export(query);
    if (out.format === "trivyignore")
      res.attachment(".trivyignore.yaml").type("application/yaml; charset=utf-8").send(out.body);
    else res.attachment("exceptions.openvex.json").type("application/json").send(`${JSON.stringify(out.body, null, 2)}\n`);
  });

  router.post("/v1/exceptions", canWrite, async (req, res) => {
    const body = parseOr422(exceptionCreateBodySchema, parseJson(await readBody(req, EXCEPTION_BODY_LIMIT)), "body");
    // The use case names its fields as the body does (expires_at); the answer locates them in the body.
    const created = await withFieldPrefix("body", () =>
      exceptions.create({
        vulnerabilityId: body.vulnerability_id,
        repository: body.repository ?? null,
        imageDigest: body.image_digest ?? null,
        reason: body.reason,
        expiresAt: body.expires_at ? new Date(body.expires_at) : null,
        createdBy: req.principal?.name ?? "unknown",
        requestedBy: body.requested_by ?? null,
        justification: body.justification ?? null,
      }),
    );
    deps.logger.info({ exception: created.id, vulnerability: created.vulnerability_id, by: created.created_by, changed: created.changed }, "exception granted");
    res.status(201).location(`/v1/exceptions/${created.id}`).json(changeAnswer(created));
  });

  router.post("/v1/vex", canWrite, async (req, res) => {
    const query = parseOr422(vexImportQuerySchema, req.query, "query");
    const doc = parseOr422(vexDocumentSchema, parseJson(await readBody(req, VEX_BODY_LIMIT)), "body");
    const by = req.principal?.name ?? "unknown";
    const result = await withFieldPrefix("query", () =>
      exceptions.importVex(doc, by, query.expires_at ? new Date(query.expires_at) : null, normalizeVulnerabilityId),
    );
    deps.logger.info(
      { document: doc["@id"], by, created: result.created.length, existing: result.existing.length, unplaced: result.unplaced.length, changed: result.changed },
      "OpenVEX document imported",
    );
    res.status(result.created.length > 0 ? 201 : 200).json({
      document: doc["@id"],
      created: result.created.map(exceptionAnswer),
      existing: result.existing,
      unplaced: result.unplaced,
      skipped: result.skipped,
      reevaluated: result.reevaluated,
      changed: result.changed,
    });
  });

  router.delete("/v1/exceptions/:id", canWrite, async (req, res) => {
    const { id } = parseOr400(exceptionIdSchema, req.params, "path");
    const revoked = await exceptions.revoke(id, req.principal?.name ?? "unknown");
    deps.logger.info({ exception: revoked.id, by: revoked.revoked_by, changed: revoked.changed }, "exception withdrawn");
    res.json(changeAnswer(revoked));
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/v1/exceptions",
    tags: ["Policy"],
    summary: "Exceptions (active by default)",
    ...authenticated("compliance:read"),
    request: { query: exceptionListQuerySchema },
    responses: { 200: jsonResponse("The exceptions", exceptionListResponseSchema), ...problems(401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/exceptions/export",
    tags: ["Policy"],
    summary: "The exceptions in force for an image or a repository, as Trivy's .trivyignore.yaml or an OpenVEX 0.2.0 document",
    description: "For `trivy image --ignorefile` / `--vex` in CI, so that CI counts what admission counts. See docs/vex.md for what Trivy honours.",
    ...authenticated("compliance:read"),
    request: { query: exceptionExportQuerySchema },
    responses: {
      200: {
        description: "The ignore file (application/yaml) or the OpenVEX document (application/json)",
        content: { "application/yaml": { schema: z.string() }, "application/json": { schema: z.object({ "@context": z.string(), statements: z.array(z.unknown()) }).passthrough() } },
      },
      ...problems(400, 401, 403, 404, 422, 503),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/exceptions",
    tags: ["Policy"],
    summary: "Grant an exception; affected images are re-evaluated at once",
    description: "Scope: a repository glob and/or an image digest, or neither (everywhere).",
    ...authenticated("policy:write"),
    request: { body: jsonBody(exceptionCreateBodySchema) },
    responses: { 201: jsonResponse("The stored exception", exceptionChangeResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/vex",
    tags: ["Policy"],
    summary: "Import an OpenVEX document: its not_affected statements become exceptions, in one transaction",
    description:
      "Scope from each product: pkg:oci purl with a digest → that image; with repository_url only → that repository; `*` → everywhere. " +
      "Products it cannot place are reported in `unplaced`, never guessed. 201 when exceptions were made, 200 when none was. See docs/vex.md.",
    ...authenticated("policy:write"),
    request: { query: vexImportQuerySchema, body: jsonBody(vexDocumentSchema) },
    responses: {
      201: jsonResponse("Exceptions were made", vexImportResponseSchema),
      200: jsonResponse("Nothing new to make", vexImportResponseSchema),
      ...problems(400, 401, 403, 413, 422, 503),
    },
  });
  registry.registerPath({
    method: "delete",
    path: "/v1/exceptions/{id}",
    tags: ["Policy"],
    summary: "Withdraw an exception (kept for audit as revoked)",
    ...authenticated("policy:write"),
    request: { params: exceptionIdSchema },
    responses: { 200: jsonResponse("The withdrawn exception", exceptionChangeResponseSchema), ...problems(400, 401, 403, 404, 503) },
  });
};
