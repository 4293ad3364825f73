import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/**
 * Cached digest lookups are answered before Express (src/http/lookup-fast-path.ts). They must be indistinguishable
 * from the Express route's answers: same body, same headers (helmet's included), same decision log, same refusals.
 */
let app: TestApp;
const digest = fakeDigest("fast-path");
let readToken: string;

beforeAll(async () => {
  app = await startTestApp();
  readToken = await app.token("compliance:read");
  const res = await app.http
    .post(`/v1/reports?digest=${digest}`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture("juice-shop-v10.2.0.json").toString());
  expect(res.status).toBe(201);
});
afterAll(async () => app.close());

const PER_REQUEST = new Set(["date", "x-request-id", "connection", "keep-alive"]);
function stableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !PER_REQUEST.has(k)));
}

test("when a cached verdict is answered, then body and headers equal the Express route's answer", async () => {
  expect(app.service.deps.lookupHeaders?.ready ?? null).toBeNull();
  const first = await app.http.get(`/v1/images/${digest}/compliance?namespace=prod`).set({ Authorization: `Bearer ${readToken}` });
  expect(first.status).toBe(200);
  expect(app.service.deps.lookupHeaders?.ready).not.toBeNull();
  const hitsBefore = app.service.deps.verdictCache.hits;
  const second = await app.http.get(`/v1/images/${digest}/compliance?namespace=prod`).set({ Authorization: `Bearer ${readToken}`, "X-Request-Id": "kyverno-123" });
  expect(second.status).toBe(200);
  expect(app.service.deps.verdictCache.hits).toBe(hitsBefore + 1);
  expect(second.text).toBe(first.text);
  expect(stableHeaders(second.headers)).toEqual(stableHeaders(first.headers));
  expect(second.headers["x-request-id"]).toBe("kyverno-123");
  expect(second.headers["x-content-type-options"]).toBe("nosniff");
  expect(Number(second.headers["content-length"])).toBe(Buffer.byteLength(second.text));
  expect(second.body).toMatchObject({ image_digest: digest, is_compliant: false, status: "non_compliant" });
});

test("when the cache holds the verdict, then a missing, unknown or under-scoped token is still refused", async () => {
  await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${readToken}` }).expect(200);
  const none = await app.http.get(`/v1/images/${digest}/compliance`);
  expect(none.status).toBe(401);
  expect(none.body.code).toBe("unauthorized");
  expect((await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: "Bearer sr_not_a_real_token_at_all" })).status).toBe(401);
  const writer = await app.token("reports:write");
  const forbidden = await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${writer}` });
  expect(forbidden.status).toBe(403);
  expect(forbidden.body.code).toBe("insufficient_scope");
});

test("when the query is invalid, then the answer is the Express route's 400, not a cached verdict", async () => {
  const res = await app.http.get(`/v1/images/${digest}/compliance?namespace=${"x".repeat(300)}`).set({ Authorization: `Bearer ${readToken}` });
  expect(res.status).toBe(400);
  expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
});

test("when cached lookups are answered, then every one is in the decision log with its namespace, image and caller", async () => {
  for (let i = 0; i < 3; i++)
    await app.http.get(`/v1/images/${digest}/compliance`).query({ namespace: "fast-ns", image: `team/app:${i}` }).set({ Authorization: `Bearer ${readToken}` }).expect(200);
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query(
    "SELECT image_ref, namespace, status, token_name FROM admission_decisions WHERE namespace = 'fast-ns' ORDER BY image_ref",
  );
  expect(rows).toEqual([0, 1, 2].map((i) => ({ image_ref: `team/app:${i}`, namespace: "fast-ns", status: "non_compliant", token_name: "test-compliance:read" })));
});

describe("POST /v1/compliance/check answered from the cache before Express", () => {
  const images = () => [`registry.example.com/fast/app@${digest}`, digest, `registry.example.com/fast/other@${digest}`];
  const check = (body: Buffer | string, headers: Record<string, string> = { Authorization: `Bearer ${readToken}` }) =>
    app.http.post("/v1/compliance/check").set(headers).unset("Content-Type").send(Buffer.from(body));
  const bodyOf = (list: string[], namespace?: string) => JSON.stringify({ images: list, namespace });

  test("when the verdicts are cached, then body and headers equal the Express route's answer and every image is recorded", async () => {
    await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${readToken}` }).expect(200);
    const first = await check(bodyOf(images(), "batch-fast")); // through Express: captures the headers
    expect(first.status).toBe(200);
    expect(app.service.deps.batchHeaders?.ready).not.toBeNull();
    const hitsBefore = app.service.deps.verdictCache.hits;
    const misses = app.service.deps.verdictCache.misses;
    const second = await check(bodyOf(images(), "batch-fast"), { Authorization: `Bearer ${readToken}`, "X-Request-Id": "kyverno-batch" });
    expect(second.status).toBe(200);
    expect(app.service.deps.verdictCache.hits).toBe(hitsBefore + 1); // one distinct digest
    expect(app.service.deps.verdictCache.misses).toBe(misses);
    expect(second.text).toBe(first.text);
    expect(stableHeaders(second.headers)).toEqual(stableHeaders(first.headers));
    expect(second.headers["x-request-id"]).toBe("kyverno-batch");
    expect(Number(second.headers["content-length"])).toBe(Buffer.byteLength(second.text));
    await app.flushDecisions();
    const { rows } = await app.database.db.pool.query(
      "SELECT image_ref, token_name FROM admission_decisions WHERE namespace = 'batch-fast' ORDER BY id",
    );
    expect(rows).toEqual([...images(), ...images()].map((image_ref) => ({ image_ref, token_name: "test-compliance:read" })));
  });

  test("when the body is bad JSON, lists too many images or a malformed one, then the answer is the route's 400", async () => {
    const badJson = await check("{not json");
    expect(badJson.status).toBe(400);
    expect(badJson.body.code).toBe("invalid_json");
    expect(badJson.headers["content-type"]).toMatch(/application\/problem\+json/);
    const notObject = await check("[1,2]");
    expect(notObject.status).toBe(400);
    expect(notObject.body.code).toBe("invalid_request");
    const tooMany = await check(bodyOf(Array.from({ length: 101 }, () => digest)));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors?.[0]?.path).toMatch(/images/);
    const malformed = await check(bodyOf([digest, "Not A Reference!!"]));
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("invalid_image");
    const empty = await check("");
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe("empty_body");
  });

  test("when the token is missing, unknown or lacks the scope, or the body is too large, then the route's 401, 403 or 413", async () => {
    const body = bodyOf(images());
    const none = await check(body, {});
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("unauthorized");
    expect(none.headers["www-authenticate"]).toMatch(/Bearer/);
    expect((await check(body, { Authorization: "Bearer sr_not_a_real_token_at_all" })).status).toBe(401);
    const writer = await app.token("reports:write");
    const forbidden = await check(body, { Authorization: `Bearer ${writer}` });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe("insufficient_scope");
    const huge = await check(bodyOf([digest, "x".repeat(300 * 1024)]));
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe("payload_too_large");
  });

  test("when an image's verdict is not cached, then the Express route answers it from the database", async () => {
    const other = fakeDigest("fast-path-uncached");
    const res = await check(bodyOf([digest, other]));
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { image_digest: string; status: string }) => [r.image_digest, r.status])).toEqual([
      [digest, "non_compliant"],
      [other, "not_scanned"],
    ]);
  });
});
