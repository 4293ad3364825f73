import crypto from "node:crypto";
import type { Pool } from "pg";
import { prismaOver } from "../db/database";
import type { PrismaClient } from "../generated/prisma/client";
import {
  countLiveTokens,
  findLiveTokenByHash,
  insertToken,
  listTokens,
  recordTokensUsed,
  revokeToken,
  insertOperatorToken,
  type OperatorTokenState,
  type TokenRow,
} from "../db/token-repository";
import type { Principal, Scope } from "./scopes";

/** Tokens look like `sr_<43 base64url chars>` (32 random bytes): recognisable in secret scanners and logs. */
export const TOKEN_PREFIX = "sr_";

function generateToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
}

/** token_prefix of a token chosen by the operator (ADMIN_TOKEN): a marker, never characters of the token. */
const OPERATOR_TOKEN_PREFIX = "(admin)";

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

/** A stored token as the API shows it; its scopes are the ones api_tokens' CHECK constraint allows. */
export type StoredToken = Omit<TokenRow, "scopes"> & { scopes: Scope[] };

interface CacheEntry {
  principal: Principal | null;
  expiresAt: Date | null;
  loadedAt: number;
}

const CACHE_TTL_MS = 5_000;
const LAST_USED_FLUSH_MS = 30_000;

/** Longer bearer tokens are refused without a database query; ADMIN_TOKEN is held to it at start. */
export const MAX_TOKEN_LENGTH = 256;

/**
 * Verifies bearer tokens against SHA-256 hashes in api_tokens. Lookups by hash are exact-match on a unique index,
 * so no token is ever compared byte by byte; answers are cached for 5 s (a revoke reaches every replica within
 * that) and last_used_at is written in one batched UPDATE every 30 s, never once per request.
 */
export class TokenService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly used = new Map<string, Date>();
  private timer: NodeJS.Timeout | null = null;

  private readonly prisma: PrismaClient;

  /**
   * `pool` serves verification (the lookup pool in the service: it fails fast); `prisma` the token writes and lists
   * (the service's client; a tool or test that passes none gets one over `pool`).
   */
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date = () => new Date(),
    prisma?: PrismaClient,
  ) {
    this.prisma = prisma ?? prismaOver(pool);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flushLastUsed().catch(() => undefined), LAST_USED_FLUSH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushLastUsed().catch(() => undefined);
  }

  async create(input: { name: string; scopes: Scope[]; expiresAt: Date | null }): Promise<StoredToken & { token: string }> {
    const token = generateToken();
    const row = await insertToken(this.prisma, { name: input.name, tokenPrefix: token.slice(0, 8), tokenHash: hashToken(token), scopes: input.scopes, expiresAt: input.expiresAt });
    return { ...(row as StoredToken), token };
  }

  /**
   * Stores a token chosen by the operator (ADMIN_TOKEN) unless it is stored already; a revoked one stays revoked
   * (the answer says so). None of its characters is stored as its prefix, `sr_` or not: an operator's token can be
   * short or hand-made, and its first characters would be a large part of the secret.
   */
  async ensure(token: string, name: string, scopes: Scope[]): Promise<OperatorTokenState> {
    return insertOperatorToken(this.pool, { name, tokenPrefix: OPERATOR_TOKEN_PREFIX, tokenHash: hashToken(token), scopes });
  }

  count(): Promise<number> {
    return countLiveTokens(this.prisma);
  }

  async list(): Promise<StoredToken[]> {
    return (await listTokens(this.prisma)) as StoredToken[];
  }

  async revoke(id: string): Promise<StoredToken | null> {
    const row = await revokeToken(this.pool, id);
    this.cache.clear();
    return row as StoredToken | null;
  }

  /** The principal for a bearer token, or null when it is unknown, expired or revoked. */
  async verify(token: string): Promise<Principal | null> {
    if (token.length < 10 || token.length > MAX_TOKEN_LENGTH) return null;
    const hash = hashToken(token);
    const nowMs = this.clock().getTime();
    let entry = this.cache.get(hash);
    if (!entry || nowMs - entry.loadedAt > CACHE_TTL_MS) {
      const row = await findLiveTokenByHash(this.pool, hash);
      entry = {
        principal: row ? { kind: "token", id: row.id, name: row.name, scopes: new Set(row.scopes as Scope[]) } : null,
        expiresAt: row?.expires_at ?? null,
        loadedAt: nowMs,
      };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.principal) return null;
    if (entry.expiresAt && entry.expiresAt.getTime() <= nowMs) return null;
    this.used.set(entry.principal.id!, new Date(nowMs));
    return entry.principal;
  }

  async flushLastUsed(): Promise<void> {
    if (this.used.size === 0) return;
    const entries = [...this.used.entries()];
    this.used.clear();
    await recordTokensUsed(this.pool, entries);
  }
}
