import type { z } from "zod";
import { DomainError, fieldErrorsFromZod, invalid } from "../domain/errors";

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
