import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startService, type RunningService } from "../../src/server";
import { readFixture } from "../support/fixtures";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { postBytes, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { concretePath, isPublic, listRoutes, type RouteInfo } from "./routes";

const MB = 1024 * 1024;
const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const deepObject = (levels: number) => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);

let app: TestApp;
let bodyRoutes: RouteInfo[];
beforeAll(async () => {
  app = await startTestApp();
  bodyRoutes = listRoutes(app.service).filter((r) => ["POST", "PUT", "PATCH"].includes(r.method) && !isPublic(r));
});
afterAll(async () => app?.close());

const admin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
/** Routes with their own body limit: reports (MAX_REPORT_BYTES) and inventory snapshots (MAX_INVENTORY_BYTES, test/runtime/inventory.test.ts). */
const takesReports = (r: RouteInfo) => r.path === "/v1/reports" || r.path === "/v1/integrations/trivy-operator" || r.path === "/v1/inventory";
/** The route's path with the query parameters it requires before it reads a body. */
const withRequiredQuery = (r: RouteInfo) => (r.path === "/v1/inventory" ? "/v1/inventory?cluster=hardening" : concretePath(r.path));

describe("security headers", () => {
  test.each(["/healthz", "/v1/tokens", `/v1/images/sha256:${"a".repeat(64)}/compliance`, "/nowhere"])(
    "when %s answers, then helmet's headers are set and X-Powered-By is not",
    async (path) => {
      const res = await app.http.get(path).set(admin);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
      expect(res.headers["cross-origin-resource-policy"]).toBe("same-origin");
      expect(res.headers["x-powered-by"]).toBeUndefined();
      // Document-only headers are for the HTML pages (below), not JSON answers.
      expect(res.headers["x-xss-protection"]).toBeUndefined();
      expect(res.headers["origin-agent-cluster"]).toBeUndefined();
    },
  );
  test.each(["/docs", "/ui/login"])("when the HTML page %s answers, then helmet's document headers are set too", async (path) => {
    const res = await app.http.get(path);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(res.headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(res.headers["origin-agent-cluster"]).toBe("?1");
    expect(res.headers["x-dns-prefetch-control"]).toBe("off");
    expect(res.headers["x-permitted-cross-domain-policies"]).toBe("none");
  });
});

describe("body limits", () => {
  test("when any endpoint that does not take reports gets a body over 1 MB, then 413 problem and nothing is stored", async () => {
    const candidates = bodyRoutes.filter((r) => !takesReports(r));
    expect(candidates.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(["POST /v1/tokens", "PUT /v1/policy", "POST /v1/compliance/check"]));
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const big = Buffer.alloc(MB + 1, 0x20);
    for (const route of candidates) {
      const res = await fetch(`${app.service.url}${concretePath(route.path)}`, { method: route.method, headers: { ...admin, "Content-Type": "application/json" }, body: big });
      expect({ route: route.path, status: res.status, type: res.headers.get("content-type") }).toEqual({
        route: route.path,
        status: 413,
        type: "application/problem+json",
      });
    }
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when MAX_JSON_BODY_BYTES is lowered, then a chunked body is held to it too, and report uploads are not", async () => {
    const small = await startTestApp({ env: { MAX_JSON_BODY_BYTES: "4kb" } });
    try {
      const chunked = (bytes: Buffer) => {
        const body = async function* () {
          for (let i = 0; i < bytes.length; i += 1024) yield bytes.subarray(i, i + 1024);
        };
        return { body: ReadableStream.from(body()), duplex: "half" } as RequestInit;
      };
      // The ECR events route's own limit is 1 MB; the setting is lower and wins.
      const events = await fetch(`${small.service.url}/v1/integrations/ecr/events`, {
        method: "POST",
        headers: { ...admin, "Content-Type": "application/json" },
        ...chunked(Buffer.alloc(64 * 1024, 0x20)),
      });
      expect(events.status).toBe(413);
      expect(await events.json()).toMatchObject({ code: "payload_too_large", limit_bytes: 4096, detail: expect.stringContaining("MAX_JSON_BODY_BYTES") });
      const report = await fetch(`${small.service.url}/v1/reports?digest=${fakeDigest("ceiling-report")}`, {
        method: "POST",
        headers: { ...admin, "Content-Type": "application/json" },
        ...chunked(readFixture("alpine-310.json.golden")),
      });
      expect(report.status).toBe(201);
    } finally {
      await small.close();
    }
  });

  test("when a chunked body (no Content-Length) passes a route's limit, then 413 too", async () => {
    const chunks = async function* () {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 0x20);
    };
    const res = await fetch(`${app.service.url}/v1/tokens`, {
      method: "POST",
      headers: { ...admin, "Content-Type": "application/json" },
      body: ReadableStream.from(chunks()),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    // The token body's own limit, which no setting changes: the answer must not point at MAX_REPORT_BYTES.
    const answer = (await res.json()) as { code: string; detail: string; limit_bytes: number };
    expect(answer).toMatchObject({ code: "payload_too_large", limit_bytes: expect.any(Number) });
    expect(answer.detail).not.toMatch(/MAX_REPORT_BYTES|report/);
  });

  test("when a gzip bomb is sent as a report, then 413 once the decoded size passes MAX_REPORT_BYTES", async () => {
    const small = await startTestApp({ env: { MAX_REPORT_BYTES: "1mb" } });
    try {
      const bomb = gzipSync(Buffer.alloc(20 * MB, 0x20));
      expect(bomb.length).toBeLessThan(MB);
      const res = await postBytes(small.service.url, "/v1/reports", bomb, { ...admin, "Content-Encoding": "gzip", "Content-Type": "application/json" });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ code: "payload_too_large", limit_bytes: MB, detail: expect.stringContaining("(MAX_REPORT_BYTES)") });
    } finally {
      await small.close();
    }
  });

  test("when any JSON body nests deeper than 64, then 400 json_too_deep (routes that read no body aside)", async () => {
    const readsNoBody: string[] = [];
    for (const route of bodyRoutes) {
      for (const body of [deep(65), deepObject(65), deep(2_000)]) {
        const res = await fetch(`${app.service.url}${withRequiredQuery(route)}`, { method: route.method, headers: { ...admin, "Content-Type": "application/json" }, body });
        const answer = (await res.json()) as { code?: string };
        if (res.status < 300 && route.path === "/v1/reevaluate") {
          readsNoBody.push(route.path);
          continue;
        }
        if (takesReports(route) && route.path === "/v1/reports") {
          // Reports skip the depth scan (cost on 50 MB); a nested array is simply not a report.
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          continue;
        }
        expect({ route: route.path, status: res.status, code: answer.code }).toEqual({ route: route.path, status: 400, code: "json_too_deep" });
      }
    }
    expect(readsNoBody.length).toBeLessThanOrEqual(3);
    // The only route allowed to answer without reading its body is POST /v1/reevaluate: it must be found, and found
    // for each of the three bodies, or the exemption above is covering nothing (or covering it only by chance).
    expect([...new Set(readsNoBody)]).toEqual(["/v1/reevaluate"]);
    expect(readsNoBody.length).toBe(3);
  });

  test("when a body nests exactly 64 deep, then it is parsed (and refused only for its shape)", async () => {
    const res = await app.http.post("/v1/tokens").set({ ...admin, "Content-Type": "application/json" }).send(deepObject(63).replace(/^\{"a":/, '{"name":"x","scopes":["admin"],"a":'));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("invalid_request");
  });
});

describe("rate limit on ingest", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { RATE_LIMIT_INGEST_PER_MINUTE: "3" } });
  });
  afterAll(async () => limited?.close());

  test("when a token uploads more than RATE_LIMIT_INGEST_PER_MINUTE, then 429 problem with Retry-After, nothing stored, other tokens unaffected", async () => {
    const ci = await limited.token("reports:write");
    const other = await limited.token("reports:write");
    const report = readFixture("alpine-310.json.golden");
    const upload = (token: string, n: number) =>
      postBytes(limited.service.url, `/v1/reports?digest=${fakeDigest(`rl-${token.slice(3, 9)}-${n}`)}`, Buffer.from(report.toString("utf8").replace('"SchemaVersion": 2', `"SchemaVersion": 2, "n": ${n}`)), {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
      });
    for (let n = 0; n < 3; n++) expect((await upload(ci, n)).status).toBe(201);
    const before = await limited.database.rowCounts();
    const refused = await upload(ci, 3);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.body.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await limited.database.rowCounts()).toEqual(before);
    // the integrations share the budget
    const viaOperator = await fetch(`${limited.service.url}/v1/integrations/trivy-operator`, { method: "POST", headers: { Authorization: `Bearer ${ci}`, "Content-Type": "application/json" }, body: "{}" });
    expect(viaOperator.status).toBe(429);
    expect((await upload(other, 100)).status).toBe(201);
    // lookups are not rate-limited
    expect((await limited.http.get(`/v1/images/${fakeDigest("rl-ci-0")}/compliance`).set("Authorization", `Bearer ${limited.adminToken}`)).status).toBe(200);
  });

  test("when no valid token is sent, then the route answers 401, not 429", async () => {
    for (let i = 0; i < 5; i++) expect((await limited.http.post("/v1/reports").send({})).status).toBe(401);
  });
});

describe("what is logged", () => {
  let service: RunningService;
  let database: TestDatabase;
  const lines: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: database.url, ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "trace" });
    service = await startService(config, { logger: createLogger("trace", sink) });
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  test("when requests succeed and fail with tokens, then no token and no Authorization header value is ever written to the log", async () => {
    const url = service.url;
    const created = (await (await fetch(`${url}/v1/tokens`, { method: "POST", headers: { ...admin, "Content-Type": "application/json" }, body: JSON.stringify({ name: "logged?", scopes: ["reports:write"] }) })).json()) as { token: string };
    const secrets = [TEST_ADMIN_TOKEN, created.token, `sr_${"Z".repeat(43)}`, "Basic c2VjcmV0OnBhc3N3b3Jk", "kubernetes-looking-jwt.eyJzdWIiOiJ4In0.sig"];
    const requests: Array<[string, RequestInit]> = [
      [`/v1/reports?digest=${fakeDigest("log")}`, { method: "POST", headers: { Authorization: `Bearer ${created.token}`, "Content-Type": "application/json" }, body: readFixture("alpine-310.json.golden") }],
      ["/v1/reports", { method: "POST", headers: { Authorization: `Bearer ${created.token}` }, body: "not json" }],
      ["/v1/tokens", { headers: { Authorization: `Bearer ${created.token}` } }],
      ["/v1/tokens", { headers: { Authorization: `Bearer ${secrets[2]}` } }],
      ["/v1/tokens", { headers: { Authorization: secrets[3]! } }],
      [`/v1/images/${fakeDigest("log")}/compliance?token=${secrets[2]}`, { headers: { Authorization: `Bearer ${secrets[4]}` } }],
      [`/v1/images/${fakeDigest("log")}/compliance`, { headers: { ...admin, Cookie: `sr_session=${created.token}` } }],
      ["/v1/tokens", { method: "POST", headers: { ...admin, "Content-Type": "application/json" }, body: "{}" }],
      ["/ui/login", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `token=${encodeURIComponent(created.token)}` }],
      ["/ui/login", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `token=${encodeURIComponent(secrets[2]!)}` }],
    ];
    for (const [path, init] of requests) await (await fetch(`${url}${path}`, init)).arrayBuffer();
    await service.deps.tokens.flushLastUsed();
    const log = lines.join("");
    expect(lines.length).toBeGreaterThan(requests.length); // the log did record these requests
    for (const secret of secrets) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/"authorization"\s*:\s*"(?!\[redacted\])/i);
  });
});
