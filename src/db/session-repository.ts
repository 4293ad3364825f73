/**
 * Dashboard sessions (table ui_sessions, each tied to the API token it was opened with). Raw SQL for now: opening a
 * session derives its expiry from the token's in the same INSERT … SELECT, and reading one joins the token so a
 * revoked or expired token ends its sessions at once.
 */
import type { Queryable } from "./queryable";

/** Deletes sessions expired by `now` (called at sign-in, so the table stays bounded without a timer). */
export async function deleteExpiredSessions(q: Queryable, now: Date): Promise<void> {
  await q.query("DELETE FROM ui_sessions WHERE expires_at <= $1", [now]);
}

/**
 * Stores a session for the token, lasting `hours` but never past the token's own expiry; returns its expiry, or
 * null when the token no longer exists.
 */
export async function insertSession(
  q: Queryable,
  s: { idHash: string; tokenId: string; csrfToken: string; now: Date; hours: number; userAgent: string | null },
): Promise<Date | null> {
  const { rows } = await q.query<{ expires_at: Date }>(
    `INSERT INTO ui_sessions (id_hash, token_id, csrf_token, created_at, expires_at, user_agent)
     SELECT $1, t.id, $3, $4, LEAST($4::timestamptz + make_interval(hours => $5::int), COALESCE(t.expires_at, 'infinity')), left($6, 200)
     FROM api_tokens t WHERE t.id = $2
     RETURNING expires_at`,
    [s.idHash, s.tokenId, s.csrfToken, s.now, s.hours, s.userAgent],
  );
  return rows[0]?.expires_at ?? null;
}

/** A live session with its token's current name and scopes. */
export interface SessionRow {
  token_id: string;
  name: string;
  scopes: string[];
  csrf_token: string;
  expires_at: Date;
}

/** The session with this ID hash if it and its token are live at `now`, or null. */
export async function findLiveSession(q: Queryable, idHash: string, now: Date): Promise<SessionRow | null> {
  const { rows } = await q.query<SessionRow>(
    `SELECT s.token_id, t.name, t.scopes, s.csrf_token, s.expires_at
     FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id
     WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`,
    [idHash, now],
  );
  return rows[0] ?? null;
}

export async function deleteSession(q: Queryable, idHash: string): Promise<void> {
  await q.query("DELETE FROM ui_sessions WHERE id_hash = $1", [idHash]);
}
