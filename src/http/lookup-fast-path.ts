import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { hasScope, type Principal } from "../auth/scopes";
import type { ComplianceLookup } from "../lookup/lookup-compliance";
import type { Authenticator } from "./authenticate";
import { answerDigestLookup, BATCH_BODY_LIMIT, BATCH_ROUTE, LOOKUP_ROUTE, writeLookupAnswerFlat } from "./lookup-answer";
import { parseJson, setPreReadBody } from "./read-body";
import { requestIdOf } from "./request-id";
import { batchCheckBodySchema, complianceQuerySchema } from "./schemas";

const LOOKUP_URL = /^\/v1\/images\/(sha256:[0-9a-f]{64})\/compliance(?:\?(.*))?$/;

/**
 * The headers the full Express stack (helmet and every other middleware) put on a lookup answer, minus the ones that
 * differ per request. Captured from a real answer of the Express route, so the fast path can only ever send what
 * that route sends: until the first lookup has gone through Express there is no template and no fast path.
 */
export class LookupHeaderTemplate {
  private headers: OutgoingHttpHeaders | null = null;
  private flatHeaders: string[] | null = null;

  get ready(): OutgoingHttpHeaders | null {
    return this.headers;
  }

  /** The same headers as a flat [name, value, …] list (what res.writeHead takes without copying an object). */
  get flat(): readonly string[] | null {
    return this.flatHeaders;
  }

  capture(res: Response | ServerResponse): void {
    if (this.headers) return;
    const all = res.getHeaders();
    const { "x-request-id": _id, "content-length": _length, ...stable } = all;
    const flat: string[] = [];
    for (const [name, value] of Object.entries(stable)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) flat.push(name, String(v));
    }
    this.flatHeaders = flat;
    this.headers = stable;
  }
}

export interface LookupFastPathOptions {
  lookup: ComplianceLookup;
  authenticateLookup: Authenticator;
  template: LookupHeaderTemplate;
  /** Headers of a batch check's answer (captured by the Express route); absent = batches always go through Express. */
  batchTemplate?: LookupHeaderTemplate | undefined;
  /** MAX_JSON_BODY_BYTES: with the route's own limit, the largest batch body the fast path reads. */
  maxJsonBodyBytes?: number;
  /** The app's per-request observer (metrics and access log), run exactly as Express runs it. */
  observe?: RequestHandler;
}

const noop: NextFunction = () => undefined;

/**
 * Admission lookups arrive at the cluster's Pod rate, and Express's per-request work (a dozen middleware layers and
 * routers in front of the route) costs several times the lookup itself. This listener answers the one hot case
 * before Express: GET /v1/images/{digest}/compliance, authenticated with compliance:read, valid query, verdict in
 * the cache. It records the decision, feeds the same observer and sends the headers and body the Express route
 * sends. Anything else (a miss, a bad token, a bad query, another route) is handed to Express untouched, so every
 * error and every rare case keeps one implementation.
 */
export function withLookupFastPath(app: RequestListener, options: LookupFastPathOptions): RequestListener {
  const { lookup, authenticateLookup, template, batchTemplate, observe } = options;
  const batchLimit = Math.min(BATCH_BODY_LIMIT, options.maxJsonBodyBytes ?? Infinity);
  const answered = (req: IncomingMessage, res: ServerResponse, principal: Principal, route: string): string => {
    const expressReq = req as unknown as Request;
    const id = requestIdOf(req);
    // What the observer reads from an Express request: the route pattern, the caller, the request id.
    Object.assign(expressReq, { id, principal, originalUrl: req.url, baseUrl: "", route: { path: route } });
    observe?.(expressReq, res as unknown as Response, noop);
    return id;
  };
  /**
   * POST /v1/compliance/check, every image a digest whose verdict is cached. Only a request Express would read the
   * same way is taken: authenticated with compliance:read (else handed over unread: 401/403), a declared
   * Content-Length within both body limits and no Content-Encoding (else unread: 413 and decoding stay Express's).
   * Once the body is read, anything but a valid all-cached batch goes to Express with the bytes read
   * (setPreReadBody), so bad JSON, a too-long list, a malformed reference or a miss get the route's own answer.
   */
  const serveBatch = async (req: IncomingMessage, res: ServerResponse, headers: readonly string[]): Promise<void> => {
    const encoding = req.headers["content-encoding"];
    const declared = Number(req.headers["content-length"]);
    const principal = await authenticateLookup(req as unknown as Request);
    if (!principal || !hasScope(principal, "compliance:read") || (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") || !(declared <= batchLimit))
      return void app(req, res);
    const bytes = await readDeclaredBody(req, declared);
    const answer = batchOf(bytes, principal);
    if (!answer) {
      setPreReadBody(req, bytes);
      return void app(req, res);
    }
    const id = answered(req, res, principal, BATCH_ROUTE);
    const text = JSON.stringify(answer);
    res.writeHead(200, [...headers, "X-Request-Id", id, "Content-Length", String(Buffer.byteLength(text))]);
    res.end(text);
  };
  const batchOf = (bytes: Buffer, principal: Principal) => {
    let json: unknown;
    try {
      json = parseJson(bytes);
    } catch {
      return null;
    }
    const body = batchCheckBodySchema.safeParse(json);
    if (!body.success) return null;
    return lookup.cachedBatch(body.data.images, {
      namespace: body.data.namespace ?? null,
      imageRef: null,
      tokenId: principal.id ?? null,
      tokenName: principal.name ?? null,
      anonymous: principal.kind === "anonymous",
    });
  };
  const serve = async (req: IncomingMessage, res: ServerResponse, digest: string, query: string | undefined, headers: readonly string[]): Promise<boolean> => {
    let parsedQuery: { namespace?: string | undefined; image?: string | undefined } = {};
    if (query) {
      const parsed = complianceQuerySchema.safeParse(parseQuery(query));
      if (!parsed.success) return false;
      parsedQuery = parsed.data;
    }
    const principal = await authenticateLookup(req as unknown as Request);
    if (!principal || !hasScope(principal, "compliance:read")) return false;
    const cached = answerDigestLookup(lookup, digest, parsedQuery, principal, "cachedOnly");
    if (!cached) return false;
    const id = answered(req, res, principal, LOOKUP_ROUTE);
    writeLookupAnswerFlat(res, cached, headers, id);
    return true;
  };
  return (req, res) => {
    if (req.method === "POST" && req.url === BATCH_ROUTE) {
      const batchHeaders = batchTemplate?.flat;
      if (!batchHeaders) return void app(req, res);
      serveBatch(req, res, batchHeaders).catch(() => {
        // The body could not be read (the client went away): nothing was answered or recorded.
        if (!res.headersSent) res.destroy();
      });
      return;
    }
    const headers = template.flat;
    const match = headers && req.method === "GET" ? LOOKUP_URL.exec(req.url ?? "") : null;
    if (!match || !headers) return void app(req, res);
    serve(req, res, match[1]!, match[2], headers).then(
      (handled) => {
        if (!handled) app(req, res);
      },
      () => {
        if (!res.headersSent) app(req, res);
      },
    );
  };
}

/** Reads a body whose Content-Length was checked against the limit (node:http stops it at that length). */
function readDeclaredBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let read = 0;
    req.on("data", (chunk: Buffer) => {
      read += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, Math.min(read, length))));
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(new Error("aborted"));
    });
  });
}
