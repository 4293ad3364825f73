import crypto from "node:crypto";
import type { Principal, Scope } from "../../auth/scopes";
import { hashToken } from "../../auth/token-service";
import type { Queryable } from "../../db/queryable";

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
    private readonly clock: () => Date,
  ) {}

  /** Opens a session for a verified token principal; returns the random ID for the cookie (only its hash is stored). */
  async create(principal: Principal, userAgent: string | undefined): Promise<{ id: string; session: UiSession }> {
    if (!principal.id) throw new Error("a dashboard session needs a stored API token");
    const now = this.clock();
    const id = crypto.randomBytes(32).toString("base64url");
    const csrfToken = crypto.randomBytes(32).toString("base64url");
    // Expired rows are swept here, at sign-in, so the table stays bounded without another timer.
    await this.db.query("DELETE FROM ui_sessions WHERE expires_at <= $1", [now]);
    const { rows } = await this.db.query<{ expires_at: Date }>(
      `INSERT INTO ui_sessions (id_hash, token_id, csrf_token, created_at, expires_at, user_agent)
       SELECT $1, t.id, $3, $4, LEAST($4::timestamptz + make_interval(hours => $5::int), COALESCE(t.expires_at, 'infinity')), left($6, 200)
       FROM api_tokens t WHERE t.id = $2
       RETURNING expires_at`,
      [hashToken(id), principal.id, csrfToken, now, SESSION_HOURS, userAgent ?? null],
    );
    if (!rows[0]) throw new Error("the token disappeared while signing in");
    return { id, session: { principal, csrfToken, expiresAt: rows[0].expires_at } };
  }

  /** The live session for a cookie value, or null when unknown, expired, or its token is revoked or expired. */
  async find(id: string): Promise<UiSession | null> {
    if (!/^[\w-]{20,100}$/.test(id)) return null;
    const now = this.clock();
    const { rows } = await this.db.query<{ token_id: string; name: string; scopes: Scope[]; csrf_token: string; expires_at: Date }>(
      `SELECT s.token_id, t.name, t.scopes, s.csrf_token, s.expires_at
       FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id
       WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`,
      [hashToken(id), now],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      principal: { kind: "token", id: row.token_id, name: row.name, scopes: new Set(row.scopes) },
      csrfToken: row.csrf_token,
      expiresAt: row.expires_at,
    };
  }

  async destroy(id: string): Promise<void> {
    await this.db.query("DELETE FROM ui_sessions WHERE id_hash = $1", [hashToken(id)]);
  }
}
