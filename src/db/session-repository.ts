/**
 * Dashboard sessions (table ui_sessions, each tied to the API token it was opened with). Prisma Client reads (with
 * the token, through the ui_sessions → api_tokens relation, so a revoked or expired token ends its sessions at once)
 * and deletes them. Raw SQL opens one: its expiry is the earlier of eight hours and the token's own, taken from the
 * token row in the same INSERT … SELECT, which Prisma Client cannot write in one statement.
 */
import type { PrismaClient } from "../generated/prisma/client";
import type { Queryable } from "./queryable";

/** Deletes sessions expired by `now` (called at sign-in, so the table stays bounded without a timer). */
export async function deleteExpiredSessions(prisma: PrismaClient, now: Date): Promise<void> {
  await prisma.uiSession.deleteMany({ where: { expiresAt: { lte: now } } });
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
export async function findLiveSession(prisma: PrismaClient, idHash: string, now: Date): Promise<SessionRow | null> {
  const found = await prisma.uiSession.findFirst({
    where: { idHash, expiresAt: { gt: now }, token: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] } },
    select: { tokenId: true, csrfToken: true, expiresAt: true, token: { select: { name: true, scopes: true } } },
  });
  if (!found) return null;
  return { token_id: found.tokenId, name: found.token.name, scopes: found.token.scopes, csrf_token: found.csrfToken, expires_at: found.expiresAt };
}

export async function deleteSession(prisma: PrismaClient, idHash: string): Promise<void> {
  await prisma.uiSession.deleteMany({ where: { idHash } });
}
