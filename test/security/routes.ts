import type { Express } from "express";
import { buildServiceApp, type RunningService } from "../../src/server";

export interface RouteInfo {
  method: string;
  /** Express pattern, e.g. /v1/images/:digest/compliance */
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
  rawPath?: string | string[];
}

/**
 * Every route the running service's Express app registers, found by walking its router stack (routers mounted at
 * a path included), so a route added tomorrow is checked without anyone updating a list.
 */
export function listRoutes(service: RunningService): RouteInfo[] {
  const app = buildServiceApp(service.deps) as Express & { router: { stack: Layer[] } };
  const routes: RouteInfo[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== "_all") routes.push({ method: method.toUpperCase(), path: prefix + p });
      } else if (layer.handle?.stack) {
        const mount = layer.slash || layer.rawPath === undefined ? "" : String(layer.rawPath);
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk(app.router.stack, "");
  const seen = new Set<string>();
  return routes.filter((r) => {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Paths that need no token by contract (PRODUCT.md, Access); /ui has its own sign-in and is tested by its owner. */
export function isPublic(route: RouteInfo): boolean {
  return (
    ["/healthz", "/readyz", "/openapi.json", "/", "/favicon.ico"].includes(route.path) ||
    route.path === "/docs" ||
    route.path.startsWith("/docs/") ||
    route.path === "/ui" ||
    route.path.startsWith("/ui/")
  );
}

/** The admission lookups: they follow LOOKUP_AUTH instead of always needing an API token. */
export const LOOKUP_ROUTES = new Set(["GET /v1/images/:digest/compliance", "GET /v1/compliance", "POST /v1/compliance/check"]);

/** A concrete URL for a pattern: plausible values for each parameter (auth runs before anything reads them). */
export function concretePath(pattern: string, value: (param: string) => string = plausibleValue): string {
  return pattern.replace(/:(\w+)(\([^)]*\))?\??/g, (_m, name: string) => encodeURIComponent(value(name))).replace(/\*\w*/g, "x");
}

export function plausibleValue(param: string): string {
  if (/digest/i.test(param)) return `sha256:${"e".repeat(64)}`;
  if (/^id$|Id$/.test(param)) return "00000000-0000-4000-8000-000000000000";
  if (/vuln|cve/i.test(param)) return "CVE-2026-0001";
  return "x";
}
