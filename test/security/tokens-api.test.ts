import { hashToken } from "../../src/auth/token-service";
import { startTestApp, type TestApp } from "../support/test-app";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

const admin = () => ({ Authorization: `Bearer ${app.adminToken}` });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe("POST /v1/tokens", () => {
  test("when an admin creates a token, then 201 shows it once and only its SHA-256 hash is stored", async () => {
    const res = await app.http.post("/v1/tokens").set(admin()).send({ name: "ci", scopes: ["reports:write", "compliance:read"] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "ci", scopes: ["reports:write", "compliance:read"], expires_at: null, revoked_at: null });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.token).toMatch(/^sr_[A-Za-z0-9_-]{43}$/);
    expect(res.headers["cache-control"]).toBe("no-store");
    const { rows } = await app.database.db.pool.query("SELECT * FROM api_tokens WHERE id = $1", [res.body.id]);
    expect(rows[0].token_hash).toBe(hashToken(res.body.token));
    expect(JSON.stringify(rows[0])).not.toContain(res.body.token);
    // the token works, with exactly its scopes
    expect((await app.http.get(`/v1/images/sha256:${"1".repeat(64)}/compliance`).set(bearer(res.body.token))).status).toBe(200);
    expect((await app.http.get("/v1/tokens").set(bearer(res.body.token))).status).toBe(403);
  });

  test("when expires_at is given, then it is stored and answered", async () => {
    const expires = new Date(Date.now() + 90 * 86_400_000).toISOString();
    const res = await app.http.post("/v1/tokens").set(admin()).send({ name: "short", scopes: ["compliance:read"], expires_at: expires });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe(expires);
  });

  test.each([
    [{ scopes: ["admin"] }, "body.name"],
    [{ name: "", scopes: ["admin"] }, "body.name"],
    [{ name: "ci\u0000", scopes: ["admin"] }, "body.name"],
    [{ name: "x" }, "body.scopes"],
    [{ name: "x", scopes: [] }, "body.scopes"],
    [{ name: "x", scopes: ["root"] }, "body.scopes.0"],
    [{ name: "x", scopes: ["admin"], expires_at: "tomorrow" }, "body.expires_at"],
    [{ name: "x", scopes: ["admin"], expires_at: "2001-01-01T00:00:00Z" }, "body.expires_at"],
    [{ name: "x", scopes: ["admin"], token_hash: "abc" }, "body"],
  ])("when the body is %j, then 422 names %s and nothing is stored", async (body, path) => {
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/tokens").set(admin()).send(body);
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when the body is not JSON, then 400 invalid_json", async () => {
    const res = await app.http.post("/v1/tokens").set({ ...admin(), "Content-Type": "application/json" }).send("{name:");
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_json");
  });

  test("when a non-admin token creates a token, then 403 and nothing is stored", async () => {
    const writer = await app.token("reports:write", "policy:write", "compliance:read");
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/tokens").set(bearer(writer)).send({ name: "escalate", scopes: ["admin"] });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("insufficient_scope");
    expect(await app.database.rowCounts()).toEqual(before);
  });
});

describe("GET /v1/tokens", () => {
  test("when an admin lists tokens, then every token is there without hash or token", async () => {
    const created = await app.http.post("/v1/tokens").set(admin()).send({ name: "listed", scopes: ["compliance:read"] });
    const res = await app.http.get("/v1/tokens").set(admin());
    expect(res.status).toBe(200);
    const listed = res.body.items.find((t: { id: string }) => t.id === created.body.id);
    expect(listed).toMatchObject({ name: "listed", scopes: ["compliance:read"], token_prefix: created.body.token.slice(0, 8) });
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/hash/i);
    expect(text).not.toContain(created.body.token);
    expect(text).not.toContain(hashToken(created.body.token));
    for (const item of res.body.items) expect(Object.keys(item).sort()).toEqual(["created_at", "expires_at", "id", "last_used_at", "name", "revoked_at", "scopes", "token_prefix"]);
  });
});

describe("DELETE /v1/tokens/{id}", () => {
  test("when a token is revoked, then 200 with the row and the token stops working at once on this replica", async () => {
    const created = await app.http.post("/v1/tokens").set(admin()).send({ name: "doomed", scopes: ["compliance:read"] });
    const lookup = () => app.http.get(`/v1/images/sha256:${"2".repeat(64)}/compliance`).set(bearer(created.body.token));
    expect((await lookup()).status).toBe(200); // now cached as valid
    const res = await app.http.delete(`/v1/tokens/${created.body.id}`).set(admin());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: created.body.id, name: "doomed" });
    expect(res.body.revoked_at).not.toBeNull();
    expect(res.body.token).toBeUndefined();
    const after = await lookup();
    expect(after.status).toBe(401);
    expect(after.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  test.each(["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..%2F..%2Fetc", "1%27%20OR%201%3D1--"])(
    "when the id %s is unknown, then 404 token_not_found",
    async (id) => {
      const res = await app.http.delete(`/v1/tokens/${id}`).set(admin());
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("token_not_found");
    },
  );
});
