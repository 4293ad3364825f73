import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Principal } from "../auth/scopes";
import type { ComplianceLookup, LookupContext } from "../lookup/lookup-compliance";
import type { CachedAnswer } from "../lookup/verdict-cache";

/** The route pattern of a digest lookup, as the Express route names it (metrics and access log use it). */
export const LOOKUP_ROUTE = "/v1/images/:digest/compliance";

/** The batch check's route and its own body limit; the fast path holds bodies to the same limit. */
export const BATCH_ROUTE = "/v1/compliance/check";
export const BATCH_BODY_LIMIT = 256 * 1024;

/**
 * Admission lookups arrive at a busy cluster's Pod rate; their successful answers are already recorded in
 * admission_decisions, so their access lines are written at debug level (src/observability/request-logging.ts).
 */
export const QUIET_ROUTES: ReadonlySet<string> = new Set([LOOKUP_ROUTE, "/v1/compliance", "/v1/compliance/check"]);

/** The headers every lookup answer carries besides the captured ones (Content-Length is set per answer). */
export const LOOKUP_ANSWER_HEADERS = { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" } as const;

/**
 * The answer to GET /v1/images/{digest}/compliance, for the fast path (src/http/lookup-fast-path.ts: `cachedOnly`,
 * null when not cached) and for the Express route alike, so the two cannot drift: the same decision-log context
 * (namespace, image reference defaulting to the digest, caller) and the same pre-serialised answer.
 */
export function answerDigestLookup(
  lookup: ComplianceLookup,
  digest: string,
  query: { namespace?: string | undefined; image?: string | undefined },
  principal: Principal | null | undefined,
  mode: "cachedOnly",
): CachedAnswer | null;
export function answerDigestLookup(
  lookup: ComplianceLookup,
  digest: string,
  query: { namespace?: string | undefined; image?: string | undefined },
  principal: Principal | null | undefined,
  mode?: "load",
): Promise<CachedAnswer>;
export function answerDigestLookup(
  lookup: ComplianceLookup,
  digest: string,
  query: { namespace?: string | undefined; image?: string | undefined },
  principal: Principal | null | undefined,
  mode: "cachedOnly" | "load" = "load",
): CachedAnswer | null | Promise<CachedAnswer> {
  const context: LookupContext = {
    namespace: query.namespace ?? null,
    imageRef: query.image ?? digest,
    tokenId: principal?.id ?? null,
    tokenName: principal?.name ?? null,
  };
  return mode === "cachedOnly" ? lookup.cachedByDigest(digest, context) : lookup.byDigest(digest, context);
}

/** Writes a lookup answer: status 200, the given headers, the answer's length and body. */
export function writeLookupAnswer(res: ServerResponse, answer: CachedAnswer, headers: OutgoingHttpHeaders): void {
  res.writeHead(200, { ...headers, "Content-Length": answer.byteLength });
  res.end(answer.text);
}

/**
 * The same for the fast path, with the headers as a flat [name, value, …] list prepared once (src/http/lookup-fast-path.ts):
 * one small array per answer instead of two copies of a fifteen-key object.
 */
export function writeLookupAnswerFlat(res: ServerResponse, answer: CachedAnswer, headers: readonly string[], requestId: string): void {
  res.writeHead(200, [...headers, "X-Request-Id", requestId, "Content-Length", String(answer.byteLength)]);
  res.end(answer.text);
}
