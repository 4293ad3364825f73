import { z } from "zod";

export const SCOPES = ["reports:write", "compliance:read", "policy:write", "inventory:write", "admin"] as const;
export const scopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof scopeSchema>;

/** Who made a request: an API token, a Kubernetes service account, or nobody (LOOKUP_AUTH=none). */
export interface Principal {
  kind: "token" | "kubernetes" | "anonymous";
  id: string | null;
  name: string;
  scopes: ReadonlySet<Scope>;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has("admin") || principal.scopes.has(scope);
}
