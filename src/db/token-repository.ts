/**
 * API tokens (table api_tokens): only SHA-256 hashes are stored. Raw SQL for now: token verification is on the
 * lookup path (LOOKUP_AUTH=token) and runs on the fast-failing lookup pool, the operator's token is upserted with a
 * conditional ON CONFLICT, and last-use times are written in one UNNEST batch.
 */
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

export async function insertToken(
  q: Queryable,
  input: { name: string; tokenPrefix: string; tokenHash: string; scopes: readonly string[]; expiresAt: Date | null },
): Promise<TokenRow> {
  const { rows } = await q.query<TokenRow>(
    `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${TOKEN_COLUMNS}`,
    [input.name, input.tokenPrefix, input.tokenHash, input.scopes, input.expiresAt],
  );
  return rows[0]!;
}

/** Stores the token, or makes it usable again with these scopes if it was withdrawn; false when it was live already. */
export async function upsertOperatorToken(
  q: Queryable,
  input: { name: string; tokenPrefix: string; tokenHash: string; scopes: readonly string[] },
): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, scopes = EXCLUDED.scopes WHERE api_tokens.revoked_at IS NOT NULL
     RETURNING id`,
    [input.name, input.tokenPrefix, input.tokenHash, input.scopes],
  );
  return (rowCount ?? 0) > 0;
}

export async function countLiveTokens(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: string }>("SELECT count(*) AS n FROM api_tokens WHERE revoked_at IS NULL");
  return Number(rows[0]!.n);
}

export async function listTokens(q: Queryable): Promise<TokenRow[]> {
  const { rows } = await q.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id`);
  return rows;
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
