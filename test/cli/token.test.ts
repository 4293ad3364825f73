import fs from "node:fs";
import path from "node:path";
import { startTestApp, type TestApp } from "../support/test-app";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env, timeoutMs: 30_000 });

let app: TestApp;
let asAdmin: Record<string, string>;
beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/token.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  app = await startTestApp();
  asAdmin = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
});
afterAll(async () => app?.close());

describe("scan-registry token create", () => {
  test("when an admin creates a CI token with --expires-in 90d, then it is printed once and works with its scopes", async () => {
    const run = await cli(["token", "create", "--name", "ci", "--scopes", "reports:write,compliance:read", "--expires-in", "90d"], asAdmin);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const token = /\b(sr_[A-Za-z0-9_-]{43})\b/.exec(run.stdout)?.[1];
    expect(token).toBeDefined();
    expect(run.stdout).toMatch(/shown this once/);
    const { rows } = await app.database.db.pool.query("SELECT name, scopes, expires_at FROM api_tokens WHERE token_prefix = $1", [token!.slice(0, 8)]);
    expect(rows[0].name).toBe("ci");
    expect(rows[0].scopes).toEqual(["reports:write", "compliance:read"]);
    const days = (rows[0].expires_at.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    expect((await app.http.get(`/v1/images/sha256:${"3".repeat(64)}/compliance`).set("Authorization", `Bearer ${token}`)).status).toBe(200);
    expect((await app.http.get("/v1/tokens").set("Authorization", `Bearer ${token}`)).status).toBe(403);
  });

  test("when --json is given, then the API answer is printed as JSON", async () => {
    const run = await cli(["token", "create", "--name", "kyverno", "--scopes", "compliance:read", "--json", "--url", app.service.url, "--token", app.adminToken]);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout);
    expect(body).toMatchObject({ name: "kyverno", scopes: ["compliance:read"], expires_at: null });
    expect(body.token).toMatch(/^sr_/);
  });

  test.each([
    ["an unknown scope", ["--name", "x", "--scopes", "root"], /body\.scopes\.0/],
    ["a bad duration", ["--name", "x", "--scopes", "admin", "--expires-in", "soon"], /--expires-in/],
    ["no --scopes", ["--name", "x"], /--scopes/],
  ])("when given %s, then exit 2 with the reason and nothing is stored", async (_what, args, message) => {
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const run = await cli(["token", "create", ...args], asAdmin);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when the token is not an admin's, then exit 2 naming the missing scope", async () => {
    const reader = await app.token("compliance:read");
    const run = await cli(["token", "create", "--name", "x", "--scopes", "admin"], { ...asAdmin, SCAN_REGISTRY_TOKEN: reader });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/403.*insufficient_scope/);
  });

  test("when no token is given, then exit 2 with a hint", async () => {
    const run = await cli(["token", "list"], { SCAN_REGISTRY_URL: app.service.url });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/401/);
    expect(run.stderr).toMatch(/SCAN_REGISTRY_TOKEN/);
  });
});

describe("scan-registry token list and revoke", () => {
  test("when a token is revoked by ID, then list shows it revoked and it stops working", async () => {
    const created = JSON.parse((await cli(["token", "create", "--name", "to-revoke", "--scopes", "compliance:read", "--json"], asAdmin)).stdout);
    const list = await cli(["token", "list"], asAdmin);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${created.id}\\s+to-revoke\\s+${created.token.slice(0, 8)}…\\s+compliance:read\\s+active`));
    expect(list.stdout).not.toContain(created.token);

    const revoke = await cli(["token", "revoke", created.id], asAdmin);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/Revoked token "to-revoke"/);

    const json = JSON.parse((await cli(["token", "list", "--json"], asAdmin)).stdout);
    const row = json.items.find((t: { id: string }) => t.id === created.id);
    expect(row.revoked_at).not.toBeNull();
    expect(JSON.stringify(json)).not.toMatch(/hash/);
    expect((await app.http.get(`/v1/images/sha256:${"4".repeat(64)}/compliance`).set("Authorization", `Bearer ${created.token}`)).status).toBe(401);
  });

  test("when the ID is unknown, then exit 2 with 404", async () => {
    const run = await cli(["token", "revoke", "00000000-0000-4000-8000-000000000000"], asAdmin);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/404.*token_not_found/);
  });
});
