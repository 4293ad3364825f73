import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { hasScope } from "../auth/scopes";
import type { ComplianceLookup } from "../lookup/lookup-compliance";
import type { Authenticator } from "./authenticate";
import { answerDigestLookup, LOOKUP_ROUTE, writeLookupAnswerFlat } from "./lookup-answer";
import { requestIdOf } from "./request-id";
import { complianceQuerySchema } from "./schemas";

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
  const { lookup, authenticateLookup, template, observe } = options;
  const serve = async (req: IncomingMessage, res: ServerResponse, digest: string, query: string | undefined, headers: readonly string[]): Promise<boolean> => {
    let parsedQuery: { namespace?: string | undefined; image?: string | undefined } = {};
    if (query) {
      const parsed = complianceQuerySchema.safeParse(parseQuery(query));
      if (!parsed.success) return false;
      parsedQuery = parsed.data;
    }
    const expressReq = req as unknown as Request;
    const principal = await authenticateLookup(expressReq);
    if (!principal || !hasScope(principal, "compliance:read")) return false;
    const cached = answerDigestLookup(lookup, digest, parsedQuery, principal, "cachedOnly");
    if (!cached) return false;
    const id = requestIdOf(req);
    // What the observer reads from an Express request: the route pattern, the caller, the request id.
    Object.assign(expressReq, { id, principal, originalUrl: req.url, baseUrl: "", route: { path: LOOKUP_ROUTE } });
    observe?.(expressReq, res as unknown as Response, noop);
    writeLookupAnswerFlat(res, cached, headers, id);
    return true;
  };
  return (req, res) => {
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
