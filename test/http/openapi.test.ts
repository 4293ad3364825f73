import { spawnSync } from "node:child_process";
import path from "node:path";
import type { Express } from "express";
import { z } from "zod";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { buildApp } from "../../src/http/app";
import { complianceAnswerSchema, uploadResponseSchema } from "../../src/http/schemas";
import {
  findingsPageSchema,
  imageDetailResponseSchema,
  imageListResponseSchema,
  reportResponseSchema,
  vulnerabilityResponseSchema,
} from "../../src/http/reading-response-schemas";

/** Routes that are not API operations: Swagger UI's own script (the page /docs is documented) and the web dashboard. */
const NOT_API = [/^\/docs\/.+/, /^\/ui(\/|$)/];

/** Runs the real validator (an ES module) in a child process. */
function validateOpenApi(doc: unknown): { valid: boolean; version: string; errors: unknown } {
  const run = spawnSync(process.execPath, [path.join(__dirname, "../support/validate-openapi.mjs")], { input: JSON.stringify(doc), encoding: "utf8" });
  if (run.status !== 0) throw new Error(`validator failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

let app: TestApp;
let document: any;
const digest = fakeDigest("openapi-alpine");
let reportId: string;

beforeAll(async () => {
  app = await startTestApp();
  const uploaded = await app.http
    .post(`/v1/reports?digest=${digest}`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture("alpine-310.json.golden").toString())
    .expect(201);
  reportId = uploaded.body.report_id;
  document = (await app.http.get("/openapi.json").expect(200)).body;
});
afterAll(async () => app.close());

/** Every (METHOD, OpenAPI path) the running Express app routes, read from its router stacks. */
function expressRoutes(express: Express): string[] {
  const found: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== "_all"))
          found.push(`${method.toUpperCase()} ${String(layer.route.path).replace(/:(\w+)/g, "{$1}")}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((express as any).router.stack);
  return found.filter((r) => !NOT_API.some((p) => p.test(r.split(" ")[1]!)));
}

function documentedRoutes(doc: any): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => ["get", "put", "post", "delete", "patch"].includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

test("when /openapi.json is fetched without a token, then it is a valid OpenAPI 3.1 document", async () => {
  const res = await app.http.get("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/application\/json/);
  expect(res.body.openapi).toBe("3.1.0");
  const result = validateOpenApi(res.body);
  expect(result.errors).toBeNull();
  expect(result.valid).toBe(true);
  expect(result.version).toBe("3.1");
});

test("when a document is broken, then the validator says so (the check above can fail)", async () => {
  const broken = structuredClone(document);
  broken.paths["/v1/reports"].post.responses["201"] = { content: {} }; // a response without its required description
  const result = validateOpenApi(broken);
  expect(result.valid).toBe(false);
});

test("when the app routes a request, then the document describes that method and path (and nothing else)", () => {
  const routed = expressRoutes(buildApp(app.service.deps));
  const documented = documentedRoutes(document);
  expect(routed.length).toBeGreaterThan(20);
  expect(routed.filter((r) => !documented.includes(r))).toEqual([]);
  expect(documented.filter((r) => !routed.includes(r))).toEqual([]);
});

test("when the contract's endpoints are read, then each has its schemas, problem answers and security", () => {
  const op = (method: string, path: string) => document.paths[path]?.[method];
  const upload = op("post", "/v1/reports");
  expect(upload.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["digest", "image", "format", "source"]));
  expect(upload.responses["201"].content["application/json"].schema).toBeDefined();
  for (const status of ["400", "401", "413", "415", "422"])
    expect(upload.responses[status].content["application/problem+json"].schema.$ref).toBe("#/components/schemas/Problem");
  expect(op("post", "/v1/compliance/check").requestBody.content["application/json"].schema.properties.images).toBeDefined();
  expect(op("get", "/v1/images/{digest}/compliance").parameters.find((p: any) => p.name === "digest").in).toBe("path");
  expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  expect(document.security).toEqual([{ bearerAuth: [] }]);
  for (const open of ["/healthz", "/readyz", "/openapi.json", "/docs"]) expect(op("get", open).security).toEqual([]);
  expect(op("post", "/v1/tokens")["x-required-scope"]).toBe("admin");
  expect(op("put", "/v1/policy")["x-required-scope"]).toBe("policy:write");
});

/** Parses a real answer with the schema the document was generated from; a field the schema lacks is drift too. */
function expectDocumented(schema: z.ZodObject, body: Record<string, unknown>) {
  const parsed = schema.safeParse(body);
  expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  expect(Object.keys(body).filter((k) => !(k in schema.shape))).toEqual([]);
}

test("when real answers are read, then they match the documented response schemas", async () => {
  const auth = { Authorization: `Bearer ${app.adminToken}` };
  const again = await app.http.post(`/v1/reports?digest=${digest}`).set({ ...auth, "Content-Type": "application/json" }).send(readFixture("alpine-310.json.golden").toString());
  expectDocumented(uploadResponseSchema, again.body);
  expectDocumented(complianceAnswerSchema, (await app.http.get(`/v1/images/${digest}/compliance`).set(auth)).body);
  expectDocumented(imageDetailResponseSchema, (await app.http.get(`/v1/images/${digest}`).set(auth)).body);
  const list = (await app.http.get("/v1/images").set(auth)).body;
  expectDocumented(imageListResponseSchema, list);
  expectDocumented(imageDetailResponseSchema.omit({ reports: true }), list.items[0]);
  const findings = (await app.http.get(`/v1/images/${digest}/findings`).set(auth)).body;
  expectDocumented(findingsPageSchema, findings);
  expect(findings.items.length).toBeGreaterThan(0);
  expectDocumented(reportResponseSchema, (await app.http.get(`/v1/reports/${reportId}`).set(auth)).body);
  const cve = readFixtureJson("alpine-310.json.golden").Results[0].Vulnerabilities[0].VulnerabilityID as string;
  expectDocumented(vulnerabilityResponseSchema, (await app.http.get(`/v1/vulnerabilities/${cve}`).set(auth)).body);
});

test("when /docs is fetched without a token, then every script and stylesheet it loads is a local path served 200", async () => {
  const page = await app.http.get("/docs");
  expect(page.status).toBe(200);
  expect(page.headers["content-type"]).toMatch(/text\/html/);
  const refs = [...page.text.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(refs.length).toBeGreaterThanOrEqual(4);
  for (const ref of refs) {
    expect(ref).toMatch(/^\/(?!\/)/); // a path on this server: not https://cdn…, not //cdn…
    const asset = await app.http.get(ref);
    expect({ ref, status: asset.status }).toEqual({ ref, status: 200 });
    expect(asset.body.length ?? asset.text.length).toBeGreaterThan(0);
  }
  const init = await app.http.get("/docs/init.js");
  expect(init.text).toContain('url: "/openapi.json"');
  expect(init.text).toContain("validatorUrl: null");
  expect(init.text).not.toMatch(/https?:\/\//);
});

test("when an asset outside Swagger UI's files is asked for under /docs/assets, then it is 404", async () => {
  const res = await app.http.get("/docs/assets/package.json");
  expect(res.status).toBe(404);
  expect(res.body.code).toBe("not_found");
});
