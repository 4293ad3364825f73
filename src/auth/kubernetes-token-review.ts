import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { Logger } from "pino";
import { DomainError } from "../domain/errors";
import type { Principal, Scope } from "./scopes";
import { hashToken, TOKEN_PREFIX } from "./token-service";

export interface TokenReviewOptions {
  /** Base URL of the Kubernetes API, e.g. https://10.0.0.1:443 (in-cluster) or a test's loopback fake. */
  apiUrl: string;
  /** CA bundle that signs the API server's certificate (the service account's ca.crt). */
  caFile: string;
  /** This service's own service-account token, sent to authorise the TokenReview call (re-read: it rotates). */
  tokenFile: string;
  /** The audience the reviewed token must carry (KUBERNETES_TOKEN_AUDIENCE). */
  audience: string;
  /** Usernames allowed to look up; empty = any authenticated identity. */
  allowedUsers: readonly string[];
  logger: Pick<Logger, "warn" | "debug">;
  clock?: () => number;
  timeoutMs?: number;
}

interface Cached {
  principal: Principal | null;
  until: number;
}

/** Allowed answers are kept 60 s, refusals 10 s: a new or fixed identity is seen soon, a flood costs one call. */
const ALLOWED_TTL_MS = 60_000;
const DENIED_TTL_MS = 10_000;
const OWN_TOKEN_TTL_MS = 60_000;
const LOOKUP_SCOPES: ReadonlySet<Scope> = new Set<Scope>(["compliance:read"]);
const NO_SCOPES: ReadonlySet<Scope> = new Set<Scope>();

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string };
  audiences?: string[];
  error?: string;
}

/**
 * Authenticates Kyverno's bearer token with the Kubernetes TokenReview API (authentication.k8s.io/v1), asking for
 * our audience. Answers are cached by the token's SHA-256 (the token itself is never kept or logged), and
 * concurrent reviews of one token share a single call: Kyverno checks every image of a Pod with the same token.
 */
export class KubernetesTokenReviewer {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private readonly agent: http.Agent;
  private readonly clock: () => number;
  private ownToken: { value: string | null; readAt: number } | null = null;

  constructor(private readonly options: TokenReviewOptions) {
    this.clock = options.clock ?? Date.now;
    const isHttps = options.apiUrl.startsWith("https:");
    let ca: Buffer | undefined;
    if (isHttps) {
      try {
        ca = fs.readFileSync(options.caFile);
      } catch {
        options.logger.warn({ caFile: options.caFile }, "Kubernetes CA file not readable; trusting the system CAs for the API server");
      }
    }
    this.agent = isHttps ? new https.Agent({ keepAlive: true, ca, maxSockets: 16 }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** The principal for a token Kubernetes accepts for our audience, or null. Throws 502 when the API fails. */
  async review(token: string): Promise<Principal | null> {
    const key = hashToken(token);
    const now = this.clock();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.principal;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.ask(token)
        .then((principal) => {
          if (this.cache.size >= 10_000) this.cache.clear();
          this.cache.set(key, { principal, until: this.clock() + (principal ? ALLOWED_TTL_MS : DENIED_TTL_MS) });
          return principal;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  close(): void {
    this.agent.destroy();
  }

  private async ask(token: string): Promise<Principal | null> {
    const body = JSON.stringify({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: [this.options.audience] },
    });
    const { status, text } = await this.post("/apis/authentication.k8s.io/v1/tokenreviews", body);
    if (status < 200 || status >= 300) {
      this.options.logger.warn({ status }, "Kubernetes TokenReview refused");
      const hint = status === 401 || status === 403 ? " (may this service's account create tokenreviews? see docs/security.md)" : "";
      throw new DomainError("upstream", "token_review_failed", `The Kubernetes API answered HTTP ${status} to a TokenReview${hint}.`);
    }
    let review: { status?: TokenReviewStatus };
    try {
      review = JSON.parse(text) as { status?: TokenReviewStatus };
    } catch {
      throw new DomainError("upstream", "token_review_failed", "The Kubernetes API answered a TokenReview with something that is not JSON.");
    }
    const result = review.status ?? {};
    const username = result.user?.username;
    // An audience-aware API server echoes the audience it checked; without it the token may be meant for anyone.
    const audienceChecked = Array.isArray(result.audiences) && result.audiences.includes(this.options.audience);
    if (result.authenticated !== true || !username || !audienceChecked) {
      this.options.logger.debug({ authenticated: result.authenticated === true, audienceChecked }, "Kubernetes token not accepted");
      return null;
    }
    const allowed = this.options.allowedUsers.length === 0 || this.options.allowedUsers.includes(username);
    // A known identity that is not on the allow list is authenticated but may not read: 403, not 401.
    return { kind: "kubernetes", id: null, name: username, scopes: allowed ? LOOKUP_SCOPES : NO_SCOPES };
  }

  private readOwnToken(): string | null {
    const now = this.clock();
    if (!this.ownToken || now - this.ownToken.readAt > OWN_TOKEN_TTL_MS) {
      let value: string | null = null;
      try {
        value = fs.readFileSync(this.options.tokenFile, "utf8").trim() || null;
      } catch {
        value = null;
      }
      this.ownToken = { value, readAt: now };
    }
    return this.ownToken.value;
  }

  private post(path: string, body: string): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.options.apiUrl.replace(/\/+$/, "") + "/");
    const headers: Record<string, string | number> = {
      "Content-Type": "application/json",
      Accept: "application/json",
      "Content-Length": Buffer.byteLength(body),
    };
    const own = this.readOwnToken();
    if (own) headers.Authorization = `Bearer ${own}`;
    const request = url.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", headers, agent: this.agent, timeout: this.options.timeoutMs ?? 5000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 1024 * 1024) chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (error: Error & { code?: string }) => {
        this.options.logger.warn({ err: error.code ?? error.message }, "Kubernetes TokenReview call failed");
        reject(new DomainError("upstream", "token_review_failed", `The Kubernetes API could not be reached for a TokenReview (${error.code ?? error.message}).`));
      });
      req.end(body);
    });
  }
}

/**
 * LOOKUP_AUTH=kubernetes: API tokens keep working (a token with compliance:read), and `sr_` tokens are never sent
 * to the Kubernetes API; any other bearer token that is not an API token (an ADMIN_TOKEN may lack the prefix)
 * goes to TokenReview.
 */
export function kubernetesOrApiToken(
  verifyApiToken: (token: string) => Promise<Principal | null>,
  reviewer: KubernetesTokenReviewer,
): (token: string | null) => Promise<Principal | null> {
  return async (token) => {
    if (!token) return null;
    const apiToken = await verifyApiToken(token);
    if (apiToken || token.startsWith(TOKEN_PREFIX) || token.length > 16_384) return apiToken;
    return reviewer.review(token);
  };
}
