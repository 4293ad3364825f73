import crypto from "node:crypto";
import type { Pool } from "pg";
import type { Principal, Scope } from "./scopes";

/** Tokens look like `sr_<43 base64url chars>` (32 random bytes): recognisable in secret scanners and logs. */
export const TOKEN_PREFIX = "sr_";

function generateToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

export interface StoredToken {
  id: string;
  name: string;
  token_prefix: string;
  scopes: Scope[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

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

  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date = () => new Date(),
  ) {}

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
    const { rows } = await this.pool.query<StoredToken>(
      `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at`,
      [input.name, token.slice(0, 8), hashToken(token), input.scopes, input.expiresAt],
    );
    return { ...rows[0]!, token };
  }

  /**
   * Stores a token chosen by the operator (ADMIN_TOKEN), or makes it usable again if it was withdrawn. Its
   * prefix is not stored: unlike a generated token, an operator's token can be short, and 8 of its characters
   * would be a large part of the secret.
   */
  async ensure(token: string, name: string, scopes: Scope[]): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, scopes = EXCLUDED.scopes WHERE api_tokens.revoked_at IS NOT NULL
       RETURNING id`,
      [name, token.startsWith(TOKEN_PREFIX) ? token.slice(0, 8) : "(admin)", hashToken(token), scopes],
    );
    return (rowCount ?? 0) > 0;
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>("SELECT count(*) AS n FROM api_tokens WHERE revoked_at IS NULL");
    return Number(rows[0]!.n);
  }

  async list(): Promise<StoredToken[]> {
    const { rows } = await this.pool.query<StoredToken>(
      `SELECT id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at`,
    );
    return rows;
  }

  async revoke(id: string): Promise<StoredToken | null> {
    const { rows } = await this.pool.query<StoredToken>(
      `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
       RETURNING id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at`,
      [id],
    );
    this.cache.clear();
    return rows[0] ?? null;
  }

  /** The principal for a bearer token, or null when it is unknown, expired or revoked. */
  async verify(token: string): Promise<Principal | null> {
    if (token.length < 10 || token.length > MAX_TOKEN_LENGTH) return null;
    const hash = hashToken(token);
    const nowMs = this.clock().getTime();
    let entry = this.cache.get(hash);
    if (!entry || nowMs - entry.loadedAt > CACHE_TTL_MS) {
      const { rows } = await this.pool.query<{ id: string; name: string; scopes: Scope[]; expires_at: Date | null }>(
        "SELECT id, name, scopes, expires_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        [hash],
      );
      const row = rows[0];
      entry = {
        principal: row ? { kind: "token", id: row.id, name: row.name, scopes: new Set(row.scopes) } : null,
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
    await this.pool.query(
      `UPDATE api_tokens t SET last_used_at = u.at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
       WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
      [entries.map(([id]) => id), entries.map(([, at]) => at)],
    );
  }
}
