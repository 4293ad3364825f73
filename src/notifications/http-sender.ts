import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { checkAddress, literalAddress } from "./address-policy";

/** One POST to a receiver. */
export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface SendOptions {
  /** The whole attempt (lookup, connect, send, answer, body) ends after this. */
  timeoutMs: number;
  /** Response bytes read at most; the rest is not waited for. */
  maxResponseBytes: number;
  allowPrivateNetworks: boolean;
  /** Aborts the attempt (service shutdown); the result is then `aborted`. */
  signal?: AbortSignal | undefined;
  /** Name resolution (dns.lookup); tests give a resolver of their own to play DNS answers. */
  resolve?: Resolver;
}

/** dns.lookup with `all: true`. */
export type Resolver = (hostname: string, options: dns.LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

export type SendResult =
  | { ok: true; status: number; body: string }
  | { ok: false; status: number | null; error: string; aborted?: boolean };

/** What went wrong, for people: never the URL (a Slack URL is a credential) nor any header. */
function describe(error: NodeJS.ErrnoException, timeoutMs: number): string {
  switch (error.code) {
    case "ETIMEDOUT_ATTEMPT":
      return `no complete answer within ${timeoutMs} ms`;
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "EPIPE":
      return "the receiver closed the connection before answering";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name does not resolve";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the address is unreachable";
    case "ADDRESS_REFUSED":
      return `address refused: ${error.message}`;
    default:
      if (/socket hang up/i.test(error.message)) return "the receiver closed the connection before answering";
      if (error.code?.startsWith("ERR_TLS") || /certificate|ssl|tls/i.test(error.message)) return `TLS error: ${error.message.slice(0, 200)}`;
      return `${error.code ?? "error"}: ${error.message.slice(0, 200)}`;
  }
}

function refused(reason: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(reason);
  error.code = "ADDRESS_REFUSED";
  return error;
}

/**
 * Resolves like dns.lookup, then keeps only the addresses the policy allows. The socket connects to what this
 * returns, so the address checked is the address connected to: no window for DNS to change in between.
 */
function guardedLookup(allowPrivateNetworks: boolean, resolve: Resolver = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...(options as dns.LookupOptions), all: true }, (error, list) => {
      if (error) return (callback as (e: Error) => void)(error);
      const reasons: string[] = [];
      const allowed = list.filter((a) => {
        const verdict = checkAddress(a.address, allowPrivateNetworks);
        if (!verdict.allowed) reasons.push(verdict.reason);
        return verdict.allowed;
      });
      if (allowed.length === 0) return (callback as (e: Error) => void)(refused(`${hostname} resolves only to refused addresses: ${reasons.join("; ") || "none"}`));
      if ((options as dns.LookupOptions).all) return (callback as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
      return (callback as (e: null, a: string, f: number) => void)(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/**
 * POSTs one message to a receiver, bounded in time and in what it reads: redirects are not followed (a 3xx is a
 * failure), the response body is read up to `maxResponseBytes`, and the attempt ends after `timeoutMs` whatever the
 * receiver does (hangs, trickles, never closes). Never throws: every outcome is a value.
 */
export function sendHttp(request: OutgoingRequest, options: SendOptions): Promise<SendResult> {
  return new Promise<SendResult>((resolve) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      resolve({ ok: false, status: null, error: "the destination URL is not a valid URL" });
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      resolve({ ok: false, status: null, error: "only http and https destinations are allowed" });
      return;
    }
    const literal = literalAddress(url.hostname);
    if (literal) {
      const verdict = checkAddress(literal, options.allowPrivateNetworks);
      if (!verdict.allowed) {
        resolve({ ok: false, status: null, error: `address refused: ${verdict.reason}` });
        return;
      }
    }
    if (options.signal?.aborted) {
      resolve({ ok: false, status: null, error: "aborted: the service is stopping", aborted: true });
      return;
    }

    let settled = false;
    let status: number | null = null;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      resolve(result);
    };
    const fail = (error: NodeJS.ErrnoException) => {
      if (options.signal?.aborted) finish({ ok: false, status, error: "aborted: the service is stopping", aborted: true });
      else finish({ ok: false, status, error: describe(error, options.timeoutMs) });
    };
    const body = Buffer.from(request.body, "utf8");
    const transport = url.protocol === "https:" ? https : http;
    const req = transport.request({
      protocol: url.protocol,
      hostname: literal ?? url.hostname,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: "POST",
      headers: { ...request.headers, "Content-Length": String(body.length), Connection: "close", Host: url.host },
      agent: false,
      lookup: guardedLookup(options.allowPrivateNetworks, options.resolve),
      ...(url.protocol === "https:" && !literal ? { servername: url.hostname } : {}),
    });
    const deadline = setTimeout(() => {
      const error: NodeJS.ErrnoException = new Error("timeout");
      error.code = "ETIMEDOUT_ATTEMPT";
      fail(error);
    }, options.timeoutMs);
    const onAbort = () => fail(new Error("aborted"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", fail);
    req.on("response", (res) => {
      status = res.statusCode ?? null;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const text = Buffer.concat(chunks).subarray(0, options.maxResponseBytes).toString("utf8");
        if (status !== null && status >= 200 && status < 300) finish({ ok: true, status, body: text });
        else finish({ ok: false, status, error: `HTTP ${status}${status !== null && status >= 300 && status < 400 ? " (redirects are not followed)" : ""}${text.trim() ? `: ${printable(text)}` : ""}` });
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= options.maxResponseBytes) done();
      });
      res.on("end", done);
      res.on("error", fail);
      res.on("aborted", () => done());
    });
    req.end(body);
  });
}

/** A receiver's answer as safe, short text for notification_deliveries.error. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}
