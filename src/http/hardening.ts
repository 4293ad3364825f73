import type { Server } from "node:net";
import type { Duplex } from "node:stream";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { badRequest } from "../domain/errors";
import type { Authenticator } from "./authenticate";
import { problem, sendProblem } from "./problem";

/**
 * Request hardening that is not authentication: a ceiling on body sizes outside ingest, a nesting limit for JSON
 * bodies, and a per-token rate limit on ingest. Helmet's headers are set in app.ts.
 */

/** No JSON body this service takes is nested deeper than this; deeper input is refused before JSON.parse. */
export const MAX_JSON_DEPTH = 64;

/** Ingest endpoints: they take whole reports (MAX_REPORT_BYTES) and are rate-limited per token. */
function isIngestRequest(req: Request): boolean {
  return req.method === "POST" && (req.path === "/v1/reports" || req.path.startsWith("/v1/integrations/"));
}

/**
 * Endpoints whose body is a report (limit MAX_REPORT_BYTES) or an inventory snapshot (MAX_INVENTORY_BYTES): their
 * own limit is enforced while streaming by readBody.
 */
function takesReports(req: Request): boolean {
  return req.method === "POST" && (req.path === "/v1/reports" || req.path === "/v1/integrations/trivy-operator" || req.path === "/v1/inventory");
}

// MAX_JSON_BODY_BYTES for a request to a route that does not take reports, for readBody to hold a chunked body to.
const bodyCeilings = new WeakMap<Response, number>();

export function bodyCeilingOf(res: Response): number | undefined {
  return bodyCeilings.get(res);
}

/**
 * Refuses (413) a body whose declared Content-Length passes `maxBytes` on any endpoint that does not take reports,
 * before anything is read or authenticated; a body without one (chunked) is held to the same ceiling while it
 * streams, by readBody, together with the route's own limit.
 */
export function bodySizeCeiling(maxBytes: number): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (takesReports(req)) return next();
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBytes) {
      res.set("Connection", "close");
      sendProblem(res, problem(413, "payload_too_large", `The request body is larger than the limit of ${maxBytes} bytes (MAX_JSON_BODY_BYTES).`, { limit_bytes: maxBytes }));
      return;
    }
    bodyCeilings.set(res, maxBytes);
    next();
  };
}

/**
 * Throws 400 `json_too_deep` when `text` nests arrays/objects deeper than `maxDepth`. One pass over the characters,
 * skipping strings: cheap for the small bodies it guards (≤ 1 MB), and it runs before JSON.parse allocates anything.
 */
export function assertJsonDepth(text: string, maxDepth: number = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw badRequest("json_too_deep", `The JSON body is nested deeper than ${maxDepth} levels.`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per caller: `perMinute` requests refill evenly over a minute, and a full bucket allows a burst of
 * a minute's worth. Written here rather than taken from express-rate-limit because the key is the authenticated
 * token (known only after the token is verified), the answer must be our problem+json with Retry-After, and a
 * bucket avoids the double burst a fixed window allows at its edges. Per replica: N replicas allow N × the rate.
 */
class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;

  constructor(
    readonly perMinute: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.ratePerMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s bucket; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= 10_000) this.forgetFullBuckets(now);
      bucket = { tokens: this.perMinute, updatedMs: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.updatedMs) * this.ratePerMs);
      bucket.updatedMs = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerMs / 1000));
  }

  private forgetFullBuckets(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.updatedMs) * this.ratePerMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}

/**
 * Rate-limits ingest (POST /v1/reports, /v1/integrations/*) per authenticated token: 429 problem with Retry-After.
 * Requests without a valid token pass through untouched so that the route answers 401 as usual.
 */
export function ingestRateLimit(authenticate: Authenticator, perMinute: number, clock?: () => number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const limiter = new RateLimiter(perMinute, clock);
  return async (req: Request, res: Response, next: NextFunction) => {
    if (!isIngestRequest(req)) return next();
    const principal = await authenticate(req).catch(() => null);
    if (!principal) return next();
    const wait = limiter.take(`${principal.kind}:${principal.id ?? principal.name}`);
    if (wait === 0) return next();
    req.resume(); // discard the body we will not read
    res.set("Retry-After", String(wait));
    sendProblem(
      res,
      problem(429, "rate_limited", `This token may upload ${perMinute} reports per minute (RATE_LIMIT_INGEST_PER_MINUTE); retry in ${wait} s.`, {
        retry_after_seconds: wait,
      }),
    );
  };
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "headers_too_large", "The request line or headers are larger than 16 kB; send long values in a body (e.g. POST /v1/compliance/check)."],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "request_timeout", "The request took too long to arrive."],
};

/**
 * Node answers requests it cannot parse (oversized headers, broken HTTP) itself, with a bare status line and no
 * body, before Express sees them. This answers them as problem+json like everything else, never echoing the input.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, title, code, detail] = CLIENT_ERRORS[error.code ?? ""] ?? [400, "Bad Request", "bad_http_request", "The request is not valid HTTP/1.1."];
    const body = JSON.stringify(problem(status, code, detail, { title }));
    socket.end(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
