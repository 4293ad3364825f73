import type { NextFunction, Request, RequestHandler, Response } from "express";
import { hasScope, type Principal, type Scope } from "../auth/scopes";
import { DomainError } from "../domain/errors";

declare module "express-serve-static-core" {
  interface Request {
    principal?: Principal;
    id?: string;
  }
}

/** Resolves the caller of a request; null = not authenticated. Implementations: API tokens, Kubernetes TokenReview. */
export type Authenticator = (req: Request) => Promise<Principal | null>;

export const ANONYMOUS: Principal = Object.freeze({
  kind: "anonymous",
  id: null,
  name: "anonymous",
  scopes: new Set<Scope>(["compliance:read"]),
}) as Principal;

export function bearerToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

const unauthorized = () =>
  new DomainError("unauthorized", "unauthorized", "A valid bearer token is required (Authorization: Bearer <token>); it is missing, unknown, expired or revoked.");

/** Requires an authenticated principal holding `scope` (admin holds every scope). 401 / 403 as problem details. */
export function requireScope(authenticate: Authenticator, scope: Scope): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const principal = await authenticate(req);
    if (!principal) {
      res.set("WWW-Authenticate", 'Bearer realm="scan-registry"');
      throw unauthorized();
    }
    if (!hasScope(principal, scope))
      throw new DomainError("forbidden", "insufficient_scope", `This token lacks the ${scope} scope.`, undefined, { required_scope: scope });
    req.principal = principal;
    next();
  };
}
