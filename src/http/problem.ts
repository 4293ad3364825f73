import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { DomainError, type ErrorKind, type FieldError } from "../domain/errors";

/** RFC 9457 problem details; `code` is stable for clients, `errors` lists validation failures with paths. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  gone: 410,
  conflict: 409,
  too_large: 413,
  unsupported: 415,
  invalid: 422,
  upstream: 502,
  unavailable: 503,
};

const TITLE_BY_STATUS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): ProblemDetails {
  return {
    type: `https://scan-registry.dev/problems/${code.replace(/_/g, "-")}`,
    title: TITLE_BY_STATUS[status] ?? "Error",
    status,
    detail,
    code,
    ...extra,
  };
}

export function sendProblem(res: Response, p: ProblemDetails): void {
  const body = JSON.stringify(p);
  res.status(p.status).set("Content-Type", "application/problem+json").set("Content-Length", String(Buffer.byteLength(body))).end(body);
}

/** Errors that pg raises when the database is unreachable or a timeout fires: the service answers 503, not 500. */
function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  if (!e) return false;
  if (typeof e.code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "57P03", "57014", "08006", "08001", "08003", "53300"].includes(e.code))
    return true;
  const message = String(e.message ?? "");
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Query read timeout|Client has encountered a connection error/i.test(
    message,
  );
}

/**
 * PostgreSQL refuses U+0000 in text ("invalid byte sequence for encoding UTF8: 0x00", 22021) and in jsonb
 * (22P05). Such a value can only come from the request, wherever it was passed on (a query filter, a name, a
 * reason), so it is the client's 400, not our 500.
 */
function isUnstorableInput(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "22021" || code === "22P05";
}

/**
 * Any other PostgreSQL data exception (SQLSTATE class 22: a number or date out of range, a text that is not a valid
 * value of its type, ...). Such a value can only have come from the request (every stored value was accepted by the
 * same column), so it is the client's 400 — never a 500, and never with the database's message, which names SQL.
 */
function isDataException(error: unknown): boolean {
  const e = error as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === "string" && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === "string";
}

/** Maps any error to problem details; the only place where errors become HTTP statuses. Never leaks stacks or SQL. */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof DomainError) {
    const status = STATUS_BY_KIND[error.kind];
    return problem(status, error.code, error.message, {
      ...(error.errors ? { errors: error.errors } : {}),
      ...(error.extra ?? {}),
    });
  }
  const e = error as { type?: string; status?: number; statusCode?: number } | null;
  // body-parser / raw-body errors carry a status and a type
  if (e?.type === "entity.too.large") return problem(413, "payload_too_large", "The request body is larger than allowed.");
  if (e?.type === "entity.parse.failed") return problem(400, "invalid_json", "The request body is not valid JSON.");
  if (e?.type === "encoding.unsupported") return problem(415, "unsupported_encoding", "Unsupported Content-Encoding.");
  if (isUnstorableInput(error))
    return problem(400, "unstorable_character", "The request contains a character that cannot be stored (a NUL character, \\u0000); remove it and retry.");
  if (isDataException(error))
    return problem(400, "invalid_value", "A value in the request is out of range or not valid for its type; check the parameters and retry.");
  if (isDatabaseUnavailable(error))
    return problem(503, "database_unavailable", "The database is unavailable; retry shortly.", { retry_after_seconds: 1 });
  const status = e?.status ?? e?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) return problem(status, "bad_request", "The request could not be processed.");
  return problem(500, "internal_error", "An unexpected error occurred; it has been logged.");
}

export function problemHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const p = toProblem(error);
    if (p.status >= 500) logger.error({ err: error, method: req.method, path: req.path, reqId: req.id }, "request failed");
    else logger.debug({ code: p.code, method: req.method, path: req.path }, "request refused");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (p.status === 503) res.set("Retry-After", String(typeof p.retry_after_seconds === "number" ? p.retry_after_seconds : 1));
    sendProblem(res, p);
  };
}
