import crypto from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { hasScope, type Scope } from "../../auth/scopes";
import { DomainError } from "../../domain/errors";
import type { UiSession, UiSessionStore } from "./session-store";

export const SESSION_COOKIE = "sr_ui_session";
export const LOGIN_CSRF_COOKIE = "sr_ui_login";
export const UI_PATH = "/ui";

declare module "express-serve-static-core" {
  interface Request {
    uiSession?: UiSession;
  }
}

export function readCookie(req: Request, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null; // not percent-encoding this service wrote: no such cookie, rather than a 500 on every page
      }
    }
  }
  return null;
}

/**
 * HttpOnly (no script reads it), SameSite=Lax (never sent on a cross-site POST; a link from chat still opens the
 * page signed in), Path=/ui (the API never sees it), Secure whenever the request came over TLS.
 */
export function setCookie(req: Request, res: Response, name: string, value: string, maxAgeSeconds: number): void {
  const secure = req.secure ? "; Secure" : "";
  res.append("Set-Cookie", `${name}=${encodeURIComponent(value)}; Path=${UI_PATH}; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure}`);
}

export function clearCookie(req: Request, res: Response, name: string): void {
  setCookie(req, res, name, "", 0);
}

/** Constant-time comparison of two tokens of any length. */
export function sameToken(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Loads the session named by the cookie (if any) onto req.uiSession; never refuses. */
export function loadSession(store: UiSessionStore): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (id) {
      const session = await store.find(id);
      if (session) req.uiSession = session;
    }
    next();
  };
}

/** Pages need a session with compliance:read; without one, the browser goes to the sign-in page and comes back. */
export const requireSignIn: RequestHandler = (req, res, next) => {
  const session = req.uiSession;
  if (!session) {
    const back = req.method === "GET" ? req.originalUrl : UI_PATH + "/";
    res.redirect(303, `${UI_PATH}/login?next=${encodeURIComponent(back)}`);
    return;
  }
  if (!hasScope(session.principal, "compliance:read"))
    throw new DomainError("forbidden", "insufficient_scope", "This token lacks the compliance:read scope the dashboard needs.");
  next();
};

/**
 * Every POST carries the session's synchronizer token in the `_csrf` field; a POST without it, or with another
 * session's, is refused before anything is read or written.
 */
export const verifyCsrf: RequestHandler = (req, _res, next) => {
  const sent = typeof req.body?._csrf === "string" ? (req.body._csrf as string) : "";
  if (!req.uiSession || !sent || !sameToken(sent, req.uiSession.csrfToken))
    throw new DomainError("forbidden", "csrf_token_invalid", "The form's security token is missing or out of date; reload the page and try again.");
  next();
};

export function requireUiScope(scope: Scope): RequestHandler {
  return (req, _res, next) => {
    if (!req.uiSession || !hasScope(req.uiSession.principal, scope))
      throw new DomainError("forbidden", "insufficient_scope", `Signed in with a token that lacks the ${scope} scope: this page only reads.`);
    next();
  };
}

export function canWrite(session: UiSession | undefined): boolean {
  return !!session && hasScope(session.principal, "policy:write");
}
