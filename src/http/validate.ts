import type { z } from "zod";
import { DomainError, fieldErrorsFromZod, invalid, type FieldError } from "../domain/errors";

/** Parses a request part with its zod schema; shape errors become 422 with paths prefixed by the part. */
export function parseOr422<S extends z.ZodType>(schema: S, value: unknown, part: "query" | "body" | "path"): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid("invalid_request", `The request ${part} is invalid.`, fieldErrorsFromZod(result.error.issues, part));
  return result.data;
}

/** Lookups answer 400 (not 422) for a malformed request: Kyverno treats any non-2xx alike, people read the detail. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, part: "query" | "body" | "path"): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new DomainError("bad_request", "invalid_request", `The request ${part} is invalid.`, fieldErrorsFromZod(result.error.issues, part));
  return result.data;
}

/**
 * A list route's query: an unknown value of an enumerated filter (`?status=bogus`) is 422 `invalid_filter` naming
 * the values it may take — never ignored, which would answer the unfiltered list as if it were the filtered one.
 * Any other malformed parameter (limit, cursor) is 400 as parseOr400 says, or 422 on the lists that have always
 * answered 422 for every malformed parameter (`otherwise`: decisions, deliveries, exceptions, workloads, violations).
 */
export function parseListQuery<S extends z.ZodType>(
  schema: S,
  value: unknown,
  filters: Record<string, readonly string[]>,
  otherwise: "400" | "422" = "400",
): z.infer<S> {
  const query = (value ?? {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const [name, allowed] of Object.entries(filters)) {
    const given = query[name];
    if (given === undefined) continue;
    for (const v of Array.isArray(given) ? given : [given]) {
      if (typeof v === "string" && allowed.includes(v)) continue;
      errors.push({ path: `query.${name}`, message: `unknown value ${JSON.stringify(typeof v === "string" ? v.slice(0, 100) : v)}; expected one of ${allowed.join(", ")}` });
    }
  }
  if (errors.length) throw invalid("invalid_filter", `Unknown filter value${errors.length === 1 ? "" : "s"}: ${errors.map((e) => e.path.slice("query.".length)).join(", ")}.`, errors);
  return otherwise === "400" ? parseOr400(schema, value, "query") : parseOr422(schema, value, "query");
}

/**
 * Runs a use case whose field errors name domain fields (`expires_at`) and locates them in the request part that
 * carried them (`body.expires_at`), as every other field error of the API is located.
 */
export async function withFieldPrefix<T>(part: "query" | "body" | "path", work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError && error.errors?.length)
      throw new DomainError(
        error.kind,
        error.code,
        error.message,
        error.errors.map((e) => ({ ...e, path: e.path ? `${part}.${e.path}` : part })),
        error.extra,
      );
    throw error;
  }
}
