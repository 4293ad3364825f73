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
  /** Overrides of DEFAULT_TOKEN_REVIEW_LIMITS (tests). */
  limits?: Partial<TokenReviewLimits>;
}

/** Allowed answers are kept 60 s, refusals 10 s: a new or fixed identity is seen soon, a flood costs one call. */
const ALLOWED_TTL_MS = 60_000;
const DENIED_TTL_MS = 10_000;
/** A token once accepted keeps the reserved lane this long after its last acceptance (projected tokens live ≤ 1 h by default). */
const SEEN_VALID_TTL_MS = 2 * 3_600_000;
const OWN_TOKEN_TTL_MS = 60_000;
const LOOKUP_SCOPES: ReadonlySet<Scope> = new Set<Scope>(["compliance:read"]);
const NO_SCOPES: ReadonlySet<Scope> = new Set<Scope>();

/**
 * What a Kubernetes service-account token looks like: a JWS in compact form, three base64url segments (header,
 * claims, signature). Anything else cannot be one, and is refused without asking the API server.
 */
const JWT_SHAPE = /^[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}$/;
/** Projected service-account tokens are 1–2 KB; legacy Secret-based ones a little less. 8 KiB leaves room for claims. */
const MAX_KUBERNETES_TOKEN_LENGTH = 8_192;

function isJwtShaped(token: string): boolean {
  return token.length <= MAX_KUBERNETES_TOKEN_LENGTH && JWT_SHAPE.test(token);
}

/** The bounds on TokenReview traffic; the defaults are what the service runs with (docs/security.md). */
export interface TokenReviewLimits {
  /** Concurrent reviews of tokens not seen valid before. */
  unknownConcurrency: number;
  /** Unknown tokens waiting for a review slot; one more is refused at once. */
  unknownQueue: number;
  /** How long an unknown token may wait for a slot before it is refused (503 token_review_busy). */
  unknownWaitMs: number;
  /** Concurrent re-reviews of tokens seen valid before: their own lane, never behind unknown tokens. */
  knownConcurrency: number;
  /** Refusals remembered (10 s each); the oldest is forgotten first. */
  deniedEntries: number;
  /** Tokens remembered as valid (by hash); the least recently accepted is forgotten first. */
  allowedEntries: number;
}

const DEFAULT_TOKEN_REVIEW_LIMITS: TokenReviewLimits = {
  unknownConcurrency: 4,
  unknownQueue: 32,
  unknownWaitMs: 1_000,
  knownConcurrency: 4,
  deniedEntries: 10_000,
  allowedEntries: 1_000,
};

interface Allowed {
  principal: Principal;
  /** Answer served from memory until then. */
  until: number;
  /** Re-reviewed through the reserved lane until then. */
  seenValidUntil: number;
}

/** A counting semaphore with a bounded, time-limited queue. */
class Lane {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
    private readonly waitMs: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queueLimit) return Promise.reject(busy());
    return new Promise<void>((resolve, reject) => {
      const admit = () => {
        clearTimeout(timer);
        this.active += 1;
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(admit);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(busy());
      }, this.waitMs);
      this.waiting.push(admit);
    });
  }
}

/**
 * Fail closed when reviews are saturated: 503 with Retry-After, not 401. The token may well be valid — we could not
 * ask — so the caller (Kyverno, with failurePolicy Fail) refuses the Pod with a message that says "retry", and
 * nothing is cached.
 */
function busy(): DomainError {
  return new DomainError(
    "unavailable",
    "token_review_busy",
    "Too many unknown bearer tokens are being checked with the Kubernetes TokenReview API right now; the token was not checked. Retry in 1 s.",
    undefined,
    { retry_after_seconds: 1 },
  );
}

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
 *
 * Bounded against a flood of bogus bearers (issue 17 item 8): only JWT-shaped tokens are sent; refusals are cached
 * briefly in a bounded map of their own (a flood cannot evict accepted tokens); tokens never seen valid are reviewed
 * at most `unknownConcurrency` at a time, with a short bounded queue, then 503; tokens seen valid before are answered
 * from memory and, when their answer expires, re-reviewed in a reserved lane over their own connections.
 */
export class KubernetesTokenReviewer {
  private readonly allowed = new Map<string, Allowed>();
  private readonly denied = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private readonly unknownAgent: http.Agent;
  private readonly knownAgent: http.Agent;
  private readonly unknownLane: Lane;
  private readonly knownLane: Lane;
  private readonly clock: () => number;
  private readonly limits: TokenReviewLimits;
  private ownToken: { value: string | null; readAt: number } | null = null;

  constructor(private readonly options: TokenReviewOptions) {
    this.clock = options.clock ?? Date.now;
    this.limits = { ...DEFAULT_TOKEN_REVIEW_LIMITS, ...options.limits };
    const isHttps = options.apiUrl.startsWith("https:");
    let ca: Buffer | undefined;
    if (isHttps) {
      try {
        ca = fs.readFileSync(options.caFile);
      } catch {
        options.logger.warn({ caFile: options.caFile }, "Kubernetes CA file not readable; trusting the system CAs for the API server");
      }
    }
    const agent = (maxSockets: number) => (isHttps ? new https.Agent({ keepAlive: true, ca, maxSockets }) : new http.Agent({ keepAlive: true, maxSockets }));
    this.unknownAgent = agent(this.limits.unknownConcurrency);
    this.knownAgent = agent(this.limits.knownConcurrency);
    this.unknownLane = new Lane(this.limits.unknownConcurrency, this.limits.unknownQueue, this.limits.unknownWaitMs);
    // Known tokens are few (one per Kyverno replica and rotation): their lane waits as long as a review may take.
    this.knownLane = new Lane(this.limits.knownConcurrency, this.limits.allowedEntries, options.timeoutMs ?? 5000);
  }

  /**
   * The principal for a token Kubernetes accepts for our audience, or null. Throws 502 when the API fails, 503
   * (token_review_busy) when unknown tokens already fill the review lane.
   */
  async review(token: string): Promise<Principal | null> {
    if (!isJwtShaped(token)) return null;
    const key = hashToken(token);
    const now = this.clock();
    const known = this.allowed.get(key);
    if (known && known.until > now) return known.principal;
    const deniedUntil = this.denied.get(key);
    if (deniedUntil !== undefined) {
      if (deniedUntil > now) return null;
      this.denied.delete(key);
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      const seenValid = known !== undefined && known.seenValidUntil > now;
      if (known && !seenValid) this.allowed.delete(key);
      const lane = seenValid ? this.knownLane : this.unknownLane;
      const agent = seenValid ? this.knownAgent : this.unknownAgent;
      pending = lane
        .run(() => this.ask(token, agent))
        .then((principal) => {
          this.remember(key, principal);
          return principal;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private remember(key: string, principal: Principal | null): void {
    const now = this.clock();
    if (principal) {
      this.allowed.delete(key); // re-inserted last: the map's order is least recently accepted first
      if (this.allowed.size >= this.limits.allowedEntries) this.allowed.delete(this.allowed.keys().next().value!);
      this.allowed.set(key, { principal, until: now + ALLOWED_TTL_MS, seenValidUntil: now + SEEN_VALID_TTL_MS });
      return;
    }
    this.allowed.delete(key); // a token that stopped being valid (revoked, expired) loses the reserved lane
    this.denied.delete(key);
    if (this.denied.size >= this.limits.deniedEntries) this.denied.delete(this.denied.keys().next().value!);
    this.denied.set(key, now + DENIED_TTL_MS);
  }

  close(): void {
    this.unknownAgent.destroy();
    this.knownAgent.destroy();
  }

  private async ask(token: string, agent: http.Agent): Promise<Principal | null> {
    const body = JSON.stringify({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: [this.options.audience] },
    });
    const { status, text } = await this.post("/apis/authentication.k8s.io/v1/tokenreviews", body, agent);
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

  private post(path: string, body: string, agent: http.Agent): Promise<{ status: number; text: string }> {
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
      const req = request(url, { method: "POST", headers, agent, timeout: this.options.timeoutMs ?? 5000 }, (res) => {
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
 * to the Kubernetes API; any other bearer token that is not an API token (an ADMIN_TOKEN may lack the prefix) goes
 * to TokenReview if it is shaped like a service-account token (a JWT).
 */
export function kubernetesOrApiToken(
  verifyApiToken: (token: string) => Promise<Principal | null>,
  reviewer: KubernetesTokenReviewer,
): (token: string | null) => Promise<Principal | null> {
  return async (token) => {
    if (!token) return null;
    const apiToken = await verifyApiToken(token);
    if (apiToken || token.startsWith(TOKEN_PREFIX) || !isJwtShaped(token)) return apiToken;
    return reviewer.review(token);
  };
}
