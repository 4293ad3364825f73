import crypto from "node:crypto";
import type { Principal, Scope } from "../../auth/scopes";
import { hashToken } from "../../auth/token-service";
import type { Queryable } from "../../db/queryable";
import type { PrismaClient } from "../../generated/prisma/client";
import { deleteExpiredSessions, deleteSession, findLiveSession, insertSession } from "../../db/session-repository";

/** A signed-in browser: who (the token's current name and scopes) and the CSRF token its forms must carry. */
export interface UiSession {
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

/** Sessions last a working day, never longer than the token they were opened with. */
export const SESSION_HOURS = 8;

/**
 * Dashboard sessions in ui_sessions, so every replica knows every session and a restart signs nobody out. Each read
 * joins api_tokens: revoking or expiring the token ends its sessions on the next request, with no cache to wait for.
 */
export class UiSessionStore {
  constructor(
    private readonly db: Queryable,
    private readonly prisma: PrismaClient,
    private readonly clock: () => Date,
  ) {}

  /** Opens a session for a verified token principal; returns the random ID for the cookie (only its hash is stored). */
  async create(principal: Principal, userAgent: string | undefined): Promise<{ id: string; session: UiSession }> {
    if (!principal.id) throw new Error("a dashboard session needs a stored API token");
    const now = this.clock();
    const id = crypto.randomBytes(32).toString("base64url");
    const csrfToken = crypto.randomBytes(32).toString("base64url");
    // Expired rows are swept here, at sign-in, so the table stays bounded without another timer.
    await deleteExpiredSessions(this.prisma, now);
    const expiresAt = await insertSession(this.db, { idHash: hashToken(id), tokenId: principal.id, csrfToken, now, hours: SESSION_HOURS, userAgent: userAgent ?? null });
    if (!expiresAt) throw new Error("the token disappeared while signing in");
    return { id, session: { principal, csrfToken, expiresAt } };
  }

  /** The live session for a cookie value, or null when unknown, expired, or its token is revoked or expired. */
  async find(id: string): Promise<UiSession | null> {
    if (!/^[\w-]{20,100}$/.test(id)) return null;
    const now = this.clock();
    const row = await findLiveSession(this.prisma, hashToken(id), now);
    if (!row) return null;
    return {
      principal: { kind: "token", id: row.token_id, name: row.name, scopes: new Set(row.scopes as Scope[]) },
      csrfToken: row.csrf_token,
      expiresAt: row.expires_at,
    };
  }

  async destroy(id: string): Promise<void> {
    await deleteSession(this.prisma, hashToken(id));
  }
}
