/**
 * Domain errors: values with a stable `code`, no HTTP status. The HTTP layer maps them to problem details
 * in one place (src/http/problem.ts).
 */
export type ErrorKind =
  | "bad_request" // malformed input that is not even the right syntax (not JSON, bad digest)
  | "unsupported" // recognised, but a format we do not take (415)
  | "invalid" // shape errors with paths (422)
  | "not_found"
  | "gone" // it existed; history retention deleted it (410)
  | "conflict"
  | "too_large"
  | "unauthorized"
  | "forbidden"
  | "unavailable"
  | "upstream"; // a dependency (ECR, Kubernetes) answered badly

export interface FieldError {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly errors?: FieldError[],
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const badRequest = (code: string, message: string) => new DomainError("bad_request", code, message);
export const unsupported = (code: string, message: string, extra?: Record<string, unknown>) =>
  new DomainError("unsupported", code, message, undefined, extra);
export const invalid = (code: string, message: string, errors: FieldError[] = []) =>
  new DomainError("invalid", code, message, errors);
export const notFound = (code: string, message: string) => new DomainError("not_found", code, message);
export const gone = (code: string, message: string, extra?: Record<string, unknown>) => new DomainError("gone", code, message, undefined, extra);
export const conflict = (code: string, message: string, extra?: Record<string, unknown>) =>
  new DomainError("conflict", code, message, undefined, extra);

/** Turns zod issues into `{path, message}` pairs, with a JSON-pointer-like dotted path. */
export function fieldErrorsFromZod(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, prefix = ""): FieldError[] {
  return issues.slice(0, 50).map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((p) => p !== "").join("."),
    message: i.message,
  }));
}
