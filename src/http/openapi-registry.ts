import { extendZodWithOpenApi, OpenAPIRegistry, type ResponseConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { Scope } from "../auth/scopes";

// Lets schemas use `.openapi(...)` for parameter metadata; plain `.describe()`/`.meta()` work without it.
extendZodWithOpenApi(z);

export { OpenAPIRegistry };

/**
 * Each router file exports one of these, declaring its paths with the same zod schemas its handlers validate with.
 * src/http/openapi.ts lists them; a test fails when an Express route is missing from the document.
 */
export type RegisterOpenApi = (registry: OpenAPIRegistry) => void;

export const BEARER_AUTH = "bearerAuth";

const fieldErrorSchema = z.object({
  path: z.string().describe("Where the problem is, e.g. query.digest or body.images.0"),
  message: z.string(),
});

/** RFC 9457 problem details as src/http/problem.ts writes them. */
const problemSchema = z
  .object({
    type: z.string().describe("A URI naming the problem type"),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe("What went wrong and what to do about it, for people"),
    code: z.string().describe("Stable machine-readable code, e.g. missing_digest, insufficient_scope"),
    errors: z.array(fieldErrorSchema).optional().describe("Validation failures, with paths"),
  })
  .catchall(z.unknown())
  .meta({ id: "Problem", description: "RFC 9457 problem details (application/problem+json)." });

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request (not JSON, bad digest or reference)",
  401: "Missing, unknown, expired or revoked bearer token",
  403: "The token lacks the required scope",
  404: "Not found",
  409: "Conflict with the current state",
  410: "Deleted by history retention (RETENTION_SUPERSEDED_DAYS); the metadata remains",
  413: "Request body larger than allowed (MAX_REPORT_BYTES for reports), or a report with more findings than MAX_REPORT_FINDINGS (too_many_findings)",
  415: "Unsupported report format or Content-Encoding",
  422: "Shape errors, or a list filter given an unknown value (invalid_filter), with paths in `errors`",
  429: "Too many uploads for this token; retry after Retry-After seconds",
  502: "An upstream service (ECR, Kubernetes) answered badly",
  503: "The database is unavailable, (uploads) the replica's ingest memory budget is in use, or (LOOKUP_AUTH=kubernetes lookups) too many unknown bearer tokens are under TokenReview (token_review_busy); retry after Retry-After seconds",
};

/** Problem+json responses for the given statuses. */
export function problems(...statuses: number[]): Record<number, ResponseConfig> {
  const out: Record<number, ResponseConfig> = {};
  for (const status of statuses)
    out[status] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? "Error",
      content: { "application/problem+json": { schema: problemSchema } },
    };
  return out;
}

/** A JSON response with its schema. */
export function jsonResponse(description: string, schema: z.ZodType): ResponseConfig {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body with its schema. */
export function jsonBody(schema: z.ZodType, description?: string) {
  return { required: true, ...(description ? { description } : {}), content: { "application/json": { schema } } };
}

/**
 * The security requirement and 401/403/503 answers of an endpoint that needs `scope` (admin holds every scope).
 * Spread into registerPath: `...authenticated("compliance:read")`.
 */
export function authenticated(scope: Scope, options: { tokenOptional?: boolean } = {}) {
  const security: Array<Record<string, string[]>> = [{ [BEARER_AUTH]: [] }];
  // An empty requirement means "no token" is also accepted (LOOKUP_AUTH=none, METRICS_AUTH=none).
  if (options.tokenOptional) security.push({});
  return { security, "x-required-scope": scope };
}


/** Marks an endpoint that needs no token. */
export const PUBLIC: { security: Array<Record<string, string[]>> } = { security: [] };
