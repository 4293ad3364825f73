import type { Scope } from "../../src/auth/scopes";
import { startTestApp, type TestApp } from "../support/test-app";
import { concretePath, isPublic, listRoutes, LOOKUP_ROUTES, type RouteInfo } from "./routes";

const NON_ADMIN: Scope[] = ["reports:write", "compliance:read", "policy:write", "inventory:write"];

async function call(base: string, route: RouteInfo, headers: Record<string, string> = {}, body?: string) {
  const hasBody = ["POST", "PUT", "PATCH"].includes(route.method);
  const res = await fetch(`${base}${concretePath(route.path)}`, {
    method: route.method,
    headers: hasBody ? { "Content-Type": "application/json", ...headers } : headers,
    body: hasBody ? (body ?? "{}") : undefined,
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", wwwAuthenticate: res.headers.get("www-authenticate"), text };
}

const name = (r: RouteInfo) => `${r.method} ${r.path}`;

/** Runs `check` on every route and returns the ones that failed it, with what they answered. */
async function offenders(routes: RouteInfo[], check: (r: RouteInfo) => Promise<string | null>): Promise<string[]> {
  const failures: string[] = [];
  for (const route of routes) {
    const problem = await check(route);
    if (problem) failures.push(`${name(route)}: ${problem}`);
  }
  return failures;
}

describe("with LOOKUP_AUTH=token and METRICS_AUTH=token (the defaults)", () => {
  let app: TestApp;
  let protectedRoutes: RouteInfo[];
  const tokens: Record<string, string> = {};
  let requiredScope: (r: RouteInfo) => Scope | undefined = () => undefined;

  beforeAll(async () => {
    app = await startTestApp();
    const all = listRoutes(app.service);
    protectedRoutes = all.filter((r) => !isPublic(r));
    const t = app.service.deps.tokens;
    tokens.scopeless = (await t.create({ name: "no scopes", scopes: [], expiresAt: null })).token;
    tokens.expired = (await t.create({ name: "expired", scopes: ["admin"], expiresAt: new Date(Date.now() - 1000) })).token;
    const revoked = await t.create({ name: "revoked", scopes: ["admin"], expiresAt: null });
    await t.revoke(revoked.id);
    tokens.revoked = revoked.token;
    tokens["all but admin"] = (await t.create({ name: "all but admin", scopes: NON_ADMIN, expiresAt: null })).token;
    for (const scope of NON_ADMIN) {
      tokens[`only ${scope}`] = (await t.create({ name: `only ${scope}`, scopes: [scope], expiresAt: null })).token;
      tokens[`all but ${scope}`] = (await t.create({ name: `all but ${scope}`, scopes: NON_ADMIN.filter((s) => s !== scope), expiresAt: null })).token;
    }
    // The scope each route needs, as the OpenAPI document declares it (x-required-scope).
    const doc = await app.http.get("/openapi.json");
    if (doc.status === 200) {
      requiredScope = (r) => doc.body.paths?.[r.path.replace(/:(\w+)/g, "{$1}")]?.[r.method.toLowerCase()]?.["x-required-scope"];
    }
  });
  afterAll(async () => app?.close());

  test("the route walk finds the API (so the checks below cannot pass on an empty list)", () => {
    const names = protectedRoutes.map(name);
    for (const expected of ["POST /v1/reports", "GET /v1/images/:digest/compliance", "POST /v1/tokens", "GET /v1/tokens", "DELETE /v1/tokens/:id", "GET /metrics"])
      expect(names).toContain(expected);
  });

  test.each([
    ["no Authorization header", () => ({})],
    ["an unknown token", () => ({ Authorization: `Bearer sr_${"A".repeat(43)}` })],
    ["a Basic header", () => ({ Authorization: "Basic YWRtaW46YWRtaW4=" })],
    ["an empty Bearer", () => ({ Authorization: "Bearer " })],
    ["an expired token", () => ({ Authorization: `Bearer ${tokens.expired}` })],
    ["a revoked token", () => ({ Authorization: `Bearer ${tokens.revoked}` })],
  ])("when a protected route is called with %s, then every one answers 401 problem+json with WWW-Authenticate", async (_what, headers) => {
    const failures = await offenders(protectedRoutes, async (route) => {
      const res = await call(app.service.url, route, headers());
      if (res.status !== 401) return `HTTP ${res.status} ${res.text.slice(0, 120)}`;
      if (!res.type.startsWith("application/problem+json")) return `content-type ${res.type}`;
      if (!res.wwwAuthenticate?.startsWith("Bearer")) return "no WWW-Authenticate: Bearer";
      return null;
    });
    expect(failures).toEqual([]);
  });

  test("when a protected route is called with a valid token that has no scopes, then every one answers 403 insufficient_scope", async () => {
    const failures = await offenders(protectedRoutes, async (route) => {
      const res = await call(app.service.url, route, { Authorization: `Bearer ${tokens.scopeless}` });
      if (res.status !== 403) return `HTTP ${res.status} ${res.text.slice(0, 120)}`;
      if (JSON.parse(res.text).code !== "insufficient_scope") return res.text.slice(0, 120);
      return null;
    });
    expect(failures).toEqual([]);
  });

  test("when a route's documented scope is missing from the token, then 403; when it is the only scope, then not 401/403", async () => {
    const documented = protectedRoutes.filter((r) => requiredScope(r));
    expect(documented.length).toBeGreaterThan(0);
    const failures = await offenders(documented, async (route) => {
      const scope = requiredScope(route)!;
      const lacking = await call(app.service.url, route, { Authorization: `Bearer ${tokens[`all but ${scope}`]}` });
      if (lacking.status !== 403) return `without ${scope}: HTTP ${lacking.status}`;
      const holding = await call(app.service.url, route, { Authorization: `Bearer ${scope === "admin" ? app.adminToken : tokens[`only ${scope}`]}` });
      if (holding.status === 401 || holding.status === 403) return `with ${scope}: HTTP ${holding.status}`;
      return null;
    });
    expect(failures).toEqual([]);
  });

  test("when every non-admin scope is held, then the token routes still answer 403: tokens are admin only", async () => {
    const everyNonAdmin = tokens["all but admin"]!;
    const tokenRoutes = protectedRoutes.filter((r) => r.path.startsWith("/v1/tokens"));
    expect(tokenRoutes).toHaveLength(3);
    for (const route of tokenRoutes) expect((await call(app.service.url, route, { Authorization: `Bearer ${everyNonAdmin}` })).status).toBe(403);
  });

  test("when the public endpoints are called without a token, then they answer", async () => {
    for (const path of ["/healthz", "/readyz", "/openapi.json"]) expect((await app.http.get(path)).status).toBe(200);
  });
});

describe("with LOOKUP_AUTH=none and METRICS_AUTH=none", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { LOOKUP_AUTH: "none", METRICS_AUTH: "none" } });
  });
  afterAll(async () => app?.close());

  test("when the lookups and /metrics are called without a token, then they answer 200", async () => {
    const digest = `sha256:${"f".repeat(64)}`;
    expect((await app.http.get(`/v1/images/${digest}/compliance`)).status).toBe(200);
    expect((await app.http.get("/v1/compliance").query({ image: `nginx@${digest}` })).status).toBe(200);
    expect((await app.http.post("/v1/compliance/check").send({ images: [`nginx@${digest}`] })).status).toBe(200);
    expect((await app.http.get("/metrics")).status).toBe(200);
  });

  test("when any other protected route is called without a token, then it still answers 401", async () => {
    const rest = listRoutes(app.service).filter((r) => !isPublic(r) && !LOOKUP_ROUTES.has(name(r)) && r.path !== "/metrics");
    expect(rest.length).toBeGreaterThan(10);
    const failures = await offenders(rest, async (route) => {
      const res = await call(app.service.url, route);
      return res.status === 401 ? null : `HTTP ${res.status}`;
    });
    expect(failures).toEqual([]);
  });
});

describe("revocation across replicas", () => {
  let a: TestApp;
  let b: TestApp;
  let nowB = Date.now();
  beforeAll(async () => {
    a = await startTestApp();
    b = await startTestApp({ database: a.database, clock: () => new Date(nowB) });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  test("when a token is revoked on one replica, then it fails there at once and on the other within the 5 s token cache", async () => {
    const created = await a.http.post("/v1/tokens").set("Authorization", `Bearer ${a.adminToken}`).send({ name: "shared", scopes: ["compliance:read"] });
    const lookup = (app: TestApp) => app.http.get(`/v1/images/sha256:${"9".repeat(64)}/compliance`).set("Authorization", `Bearer ${created.body.token}`);
    expect((await lookup(a)).status).toBe(200);
    expect((await lookup(b)).status).toBe(200); // cached as valid on b
    expect((await a.http.delete(`/v1/tokens/${created.body.id}`).set("Authorization", `Bearer ${a.adminToken}`)).status).toBe(200);
    expect((await lookup(a)).status).toBe(401);
    nowB += 5_001;
    expect((await lookup(b)).status).toBe(401);
  });
});
