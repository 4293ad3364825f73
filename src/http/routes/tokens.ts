import { Router } from "express";
import { z } from "zod";
import { scopeSchema } from "../../auth/scopes";
import type { StoredToken } from "../../auth/token-service";
import { invalid, notFound } from "../../domain/errors";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { parseJson, readBody } from "../read-body";
import { parseOr422 } from "../validate";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";

const TOKEN_BODY_LIMIT = 16 * 1024;

const tokenCreateBodySchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(100)
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
      .describe("Who or what uses it: ci, kyverno, alice"),
    scopes: z
      .array(scopeSchema)
      .min(1, "name at least one scope")
      .max(10)
      .transform((s) => [...new Set(s)])
      .describe("reports:write, compliance:read, policy:write, inventory:write, admin (admin holds all)"),
    expires_at: z.iso
      .datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone, e.g. 2026-12-31T00:00:00Z" })
      .nullable()
      .optional()
      .describe("When the token stops working; omitted or null = never"),
  })
  .strict();

/** A stored token as the API shows it: never its hash, never the token itself. */
const tokenSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  token_prefix: z.string().describe("The first characters of the token, to recognise it"),
  scopes: z.array(scopeSchema),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable().describe("Updated in batches: accurate to about 30 s"),
});

const createdTokenSchema = tokenSchema.extend({
  token: z.string().describe("The token: shown in this answer only, stored only as a SHA-256 hash"),
});

const tokenListSchema = z.object({ items: z.array(tokenSchema) });

const tokenIdSchema = z.string().uuid();

function tokenAnswer(row: StoredToken) {
  return {
    id: row.id,
    name: row.name,
    token_prefix: row.token_prefix,
    scopes: row.scopes,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
  };
}

/** Token administration (admin scope only): create (the token is shown once), list, revoke. */
export function tokensRouter(deps: AppDependencies): Router {
  const router = Router();
  const isAdmin = requireScope(deps.authenticate, "admin");

  router.post("/v1/tokens", isAdmin, async (req, res) => {
    const body = parseOr422(tokenCreateBodySchema, parseJson(await readBody(req, TOKEN_BODY_LIMIT)), "body");
    const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= deps.clock().getTime())
      throw invalid("invalid_request", "The request body is invalid.", [{ path: "body.expires_at", message: "must be in the future" }]);
    const created = await deps.tokens.create({ name: body.name, scopes: body.scopes, expiresAt });
    deps.logger.info({ tokenId: created.id, name: created.name, scopes: created.scopes, by: req.principal?.name }, "API token created");
    res
      .status(201)
      .location(`/v1/tokens/${created.id}`)
      .set("Cache-Control", "no-store")
      .json({ ...tokenAnswer(created), token: created.token });
  });

  router.get("/v1/tokens", isAdmin, async (_req, res) => {
    res.json({ items: (await deps.tokens.list()).map(tokenAnswer) });
  });

  router.delete("/v1/tokens/:id", isAdmin, async (req, res) => {
    const id = String(req.params.id);
    // Anything that is not a UUID cannot name a token: 404 like any other unknown ID.
    const revoked = tokenIdSchema.safeParse(id).success ? await deps.tokens.revoke(id) : null;
    if (!revoked) throw notFound("token_not_found", `No token ${id.slice(0, 100)}.`);
    deps.logger.info({ tokenId: revoked.id, name: revoked.name, by: req.principal?.name }, "API token revoked");
    res.json(tokenAnswer(revoked));
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "post",
    path: "/v1/tokens",
    tags: ["Access"],
    summary: "Create an API token (shown once)",
    ...authenticated("admin"),
    request: { body: jsonBody(tokenCreateBodySchema) },
    responses: { 201: jsonResponse("The stored token and, this once, the token itself", createdTokenSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/tokens",
    tags: ["Access"],
    summary: "List API tokens (never their hashes)",
    ...authenticated("admin"),
    responses: { 200: jsonResponse("Every token", tokenListSchema), ...problems(401, 403, 503) },
  });
  registry.registerPath({
    method: "delete",
    path: "/v1/tokens/{id}",
    tags: ["Access"],
    summary: "Revoke an API token",
    ...authenticated("admin"),
    request: { params: z.object({ id: tokenIdSchema }) },
    responses: { 200: jsonResponse("The revoked token", tokenSchema), ...problems(401, 403, 404, 503) },
  });
};
