/**
 * API tokens (table api_tokens): only SHA-256 hashes are stored. Prisma Client creates, lists and counts them (plain
 * single-table reads and writes). Raw SQL where Prisma would be slower or not atomic: verification by hash is on the
 * lookup path (LOOKUP_AUTH=token) and runs on the fast-failing lookup pool; the operator's token is inserted with
 * ON CONFLICT DO NOTHING (a revoked one stays revoked); a withdrawal keeps its first time with COALESCE in one
 * statement; last-use times are written in one UNNEST batch.
 */
import type { PrismaClient } from "../generated/prisma/client";
import type { Queryable } from "./queryable";

/** An api_tokens row as the API shows it (never the hash). */
export interface TokenRow {
  id: string;
  name: string;
  token_prefix: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const TOKEN_COLUMNS = "id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at";

const TOKEN_SELECT = {
  id: true,
  name: true,
  tokenPrefix: true,
  scopes: true,
  createdAt: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
} as const;

function toTokenRow(t: { id: string; name: string; tokenPrefix: string; scopes: string[]; createdAt: Date; expiresAt: Date | null; revokedAt: Date | null; lastUsedAt: Date | null }): TokenRow {
  return {
    id: t.id,
    name: t.name,
    token_prefix: t.tokenPrefix,
    scopes: t.scopes,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
    last_used_at: t.lastUsedAt,
  };
}

export async function insertToken(
  prisma: PrismaClient,
  input: { name: string; tokenPrefix: string; tokenHash: string; scopes: readonly string[]; expiresAt: Date | null },
): Promise<TokenRow> {
  const created = await prisma.apiToken.create({
    data: { name: input.name, tokenPrefix: input.tokenPrefix, tokenHash: input.tokenHash, scopes: [...input.scopes], expiresAt: input.expiresAt },
    select: TOKEN_SELECT,
  });
  return toTokenRow(created);
}

/** What storing an operator-chosen token found: it is new, it was stored before, or it was revoked (and stays so). */
export type OperatorTokenState = { state: "created" } | { state: "exists" } | { state: "revoked"; revokedAt: Date };

/**
 * Stores an operator-chosen token (ADMIN_TOKEN) unless its hash is stored already. A revoked one is left revoked:
 * revoking is how an administrator withdraws a leaked bootstrap token, and a restart must not undo that.
 */
export async function insertOperatorToken(
  q: Queryable,
  input: { name: string; tokenPrefix: string; tokenHash: string; scopes: readonly string[] },
): Promise<OperatorTokenState> {
  const { rowCount } = await q.query(
    `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes) VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING`,
    [input.name, input.tokenPrefix, input.tokenHash, input.scopes],
  );
  if ((rowCount ?? 0) > 0) return { state: "created" };
  const { rows } = await q.query<{ revoked_at: Date | null }>("SELECT revoked_at FROM api_tokens WHERE token_hash = $1", [input.tokenHash]);
  const revokedAt = rows[0]?.revoked_at ?? null;
  return revokedAt ? { state: "revoked", revokedAt } : { state: "exists" };
}

export function countLiveTokens(prisma: PrismaClient): Promise<number> {
  return prisma.apiToken.count({ where: { revokedAt: null } });
}

export async function listTokens(prisma: PrismaClient): Promise<TokenRow[]> {
  // (created_at, id): tokens created in one instant keep a stable order.
  return (await prisma.apiToken.findMany({ select: TOKEN_SELECT, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })).map(toTokenRow);
}

/** Withdraws a token (kept, with its first revocation time); null when unknown. */
export async function revokeToken(q: Queryable, id: string): Promise<TokenRow | null> {
  const { rows } = await q.query<TokenRow>(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${TOKEN_COLUMNS}`, [id]);
  return rows[0] ?? null;
}

/** The live (not withdrawn) token with this hash, or null; whether it has expired is the caller's check. */
export async function findLiveTokenByHash(
  q: Queryable,
  tokenHash: string,
): Promise<{ id: string; name: string; scopes: string[]; expires_at: Date | null } | null> {
  const { rows } = await q.query<{ id: string; name: string; scopes: string[]; expires_at: Date | null }>(
    "SELECT id, name, scopes, expires_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    [tokenHash],
  );
  return rows[0] ?? null;
}

/** Records last-use times in one statement; never moves a time backwards. */
export async function recordTokensUsed(q: Queryable, used: ReadonlyArray<readonly [id: string, at: Date]>): Promise<void> {
  await q.query(
    `UPDATE api_tokens t SET last_used_at = u.at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
     WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
    [used.map(([id]) => id), used.map(([, at]) => at)],
  );
}
