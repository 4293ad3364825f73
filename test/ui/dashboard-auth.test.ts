import { hashToken } from "../../src/auth/token-service";
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession, csrfOf } from "./browser-session";

let app: TestApp;
let readOnlyToken: string;
let writerToken: string;
const FLUENTD = `sha256:${"f1".repeat(32)}`;

beforeAll(async () => {
  app = await startTestApp();
  readOnlyToken = await app.token("compliance:read");
  writerToken = await app.token("compliance:read", "policy:write");
  await app.http
    .post(`/v1/reports?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.0`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture("fluentd-gems.json.golden").toString())
    .expect(201);
});
afterAll(async () => app.close());

const count = async (table: string) => Number((await app.database.db.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

test("when nobody is signed in, then every page redirects to the sign-in form and comes back afterwards", async () => {
  const browser = new BrowserSession(app.service.url);
  const page = await browser.get("/ui/images?status=non_compliant");
  expect(page.status).toBe(303);
  expect(page.location).toBe(`/ui/login?next=${encodeURIComponent("/ui/images?status=non_compliant")}`);
  const signedIn = await browser.signIn(readOnlyToken, "/ui/images?status=non_compliant");
  expect(signedIn.status).toBe(303);
  expect(signedIn.location).toBe("/ui/images?status=non_compliant");
  expect((await browser.get("/ui/images?status=non_compliant")).status).toBe(200);
});

test("when the token is valid, then the session cookie is HttpOnly, SameSite, limited to /ui and stored only as a hash", async () => {
  const browser = new BrowserSession(app.service.url);
  const form = await browser.get("/ui/login");
  expect(form.text).toMatch(/<label for="token">API token<\/label>/);
  expect(form.text).toMatch(/<input id="token" name="token" type="password"/);
  const res = await browser.post("/ui/login", { token: app.adminToken, _csrf: csrfOf(form.text), next: "/ui/" });
  expect(res.status).toBe(303);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("sr_ui_session="))!;
  expect(cookie).toMatch(/; Path=\/ui; HttpOnly; SameSite=Lax; Max-Age=\d+/);
  const id = decodeURIComponent(cookie.split(";")[0]!.split("=")[1]!);
  const { rows } = await app.database.db.pool.query("SELECT id_hash FROM ui_sessions");
  expect(rows.map((r) => r.id_hash)).not.toContain(id);
  // The stored form is the API tokens' (SHA-256, hex): sessions already stored stay valid.
  expect(rows.map((r) => r.id_hash)).toContain(hashToken(id));
  const overview = await browser.get("/ui/");
  expect(overview.status).toBe(200);
  expect(overview.text).toContain("admin (ADMIN_TOKEN)");
  expect(overview.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
});

test("when the token is unknown, then sign-in is refused with 401 and no session is created", async () => {
  const before = await count("ui_sessions");
  const browser = new BrowserSession(app.service.url);
  const res = await browser.signIn("sr_this_token_does_not_exist_000000000000000");
  expect(res.status).toBe(401);
  expect(res.text).toContain("That token is unknown, expired or revoked.");
  expect(res.headers.getSetCookie().some((c) => c.startsWith("sr_ui_session="))).toBe(false);
  expect(await count("ui_sessions")).toBe(before);
});

test("when the token lacks compliance:read, then sign-in is refused with 403", async () => {
  const uploader = await app.token("reports:write");
  const res = await new BrowserSession(app.service.url).signIn(uploader);
  expect(res.status).toBe(403);
  expect(res.text).toContain("lacks the <code>compliance:read</code> scope");
});

test("when the sign-in form comes without its own CSRF cookie, then it is refused", async () => {
  const browser = new BrowserSession(app.service.url);
  const form = await browser.get("/ui/login");
  const stranger = new BrowserSession(app.service.url);
  const res = await stranger.post("/ui/login", { token: app.adminToken, _csrf: csrfOf(form.text) });
  expect(res.status).toBe(403);
  expect(res.headers.getSetCookie().some((c) => c.startsWith("sr_ui_session="))).toBe(false);
});

test("when next points outside the dashboard, then sign-in lands on the overview instead (no open redirect)", async () => {
  for (const next of ["https://evil.example/", "//evil.example/x", "/v1/tokens", "/ui\\@evil"]) {
    const browser = new BrowserSession(app.service.url);
    const form = await browser.get("/ui/login");
    const res = await browser.post("/ui/login", { token: readOnlyToken, _csrf: csrfOf(form.text), next });
    expect(res.location).toBe("/ui/");
  }
});

test("when a POST carries no or another session's CSRF token, then it is refused with 403 and nothing changes", async () => {
  const browser = new BrowserSession(app.service.url);
  await browser.signIn(writerToken);
  const other = new BrowserSession(app.service.url);
  await other.signIn(writerToken);
  const before = { versions: await count("policy_versions"), exceptions: await count("policy_exceptions") };
  const policy = { max_CRITICAL: "5", block_secrets: "on", unscanned: "deny", action: "save" };
  for (const csrf of [undefined, "forged", await other.csrf()]) {
    const res = await browser.post("/ui/policy", csrf === undefined ? policy : { ...policy, _csrf: csrf });
    expect(res.status).toBe(403);
    expect(res.text).toContain("security token is missing or out of date");
  }
  const grant = { vulnerability_id: "CVE-2019-18224", scope: "everywhere", reason: "r", expires_on: "2099-01-01", _csrf: "forged" };
  expect((await browser.post(`/ui/images/${FLUENTD}/exceptions`, grant)).status).toBe(403);
  expect({ versions: await count("policy_versions"), exceptions: await count("policy_exceptions") }).toEqual(before);
  // With its own token the same form goes through.
  expect((await browser.post("/ui/policy", { ...policy, action: "dry-run", _csrf: await browser.csrf() })).status).toBe(200);
});

test("when signed in with a compliance:read token, then no page shows a form that changes anything, and posting anyway is 403", async () => {
  const browser = new BrowserSession(app.service.url);
  await browser.signIn(readOnlyToken);
  for (const path of ["/ui/", "/ui/images", `/ui/images/${FLUENTD}`, "/ui/vulnerabilities/CVE-2019-18224", "/ui/policy", "/ui/exceptions"]) {
    const page = await browser.get(path);
    expect(page.status).toBe(200);
    const posts = [...page.text.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) => m[1]);
    expect({ path, posts }).toEqual({ path, posts: ["/ui/logout"] });
    expect(page.text).toContain("read-only");
    expect(page.text).not.toMatch(/Grant exception|>Withdraw<|Save as a new version|Accept risk|Preview changes/);
  }
  const before = { versions: await count("policy_versions"), exceptions: await count("policy_exceptions") };
  const csrf = await browser.csrf();
  const attempts = [
    browser.post("/ui/policy", { _csrf: csrf, max_CRITICAL: "9", unscanned: "deny", action: "save" }),
    browser.post("/ui/policy", { _csrf: csrf, max_CRITICAL: "9", unscanned: "deny", action: "dry-run" }),
    browser.post(`/ui/images/${FLUENTD}/exceptions`, { _csrf: csrf, vulnerability_id: "CVE-2019-18224", scope: "image", reason: "x", expires_on: "2099-01-01" }),
    browser.post("/ui/vulnerabilities/CVE-2019-18224/exceptions", { _csrf: csrf, scope: "everywhere", reason: "x", expires_on: "2099-01-01" }),
    browser.post("/ui/exceptions/00000000-0000-4000-8000-000000000000/withdraw", { _csrf: csrf }),
  ];
  for (const res of await Promise.all(attempts)) {
    expect(res.status).toBe(403);
    expect(res.text).toContain("lacks the policy:write scope");
  }
  expect({ versions: await count("policy_versions"), exceptions: await count("policy_exceptions") }).toEqual(before);
});

test("when the token is revoked, then its dashboard sessions end at the next request", async () => {
  const created = await app.service.deps.tokens.create({ name: "soon-revoked", scopes: ["compliance:read"], expiresAt: null });
  const browser = new BrowserSession(app.service.url);
  await browser.signIn(created.token);
  expect((await browser.get("/ui/")).status).toBe(200);
  await app.service.deps.tokens.revoke(created.id);
  const after = await browser.get("/ui/");
  expect(after.status).toBe(303);
  expect(after.location).toMatch(/^\/ui\/login/);
});

test("when signing out, then the session is deleted and its cookie no longer opens pages", async () => {
  const browser = new BrowserSession(app.service.url);
  await browser.signIn(readOnlyToken);
  const cookie = browser.cookieHeader;
  const res = await browser.post("/ui/logout", { _csrf: await browser.csrf() });
  expect(res.status).toBe(200);
  expect(res.text).toContain("Signed out");
  const replay = await fetch(`${app.service.url}/ui/`, { redirect: "manual", headers: { cookie } });
  expect(replay.status).toBe(303);
});

test("when the session cookie is not valid percent-encoding, then it counts as no session (sign-in), not a server error", async () => {
  const res = await fetch(`${app.service.url}/ui/`, { redirect: "manual", headers: { cookie: "sr_ui_session=%E0%A4%A" } });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe(`/ui/login?next=${encodeURIComponent("/ui/")}`);
  const login = await fetch(`${app.service.url}/ui/login`, { redirect: "manual", headers: { cookie: "sr_ui_login=%ZZ" } });
  expect(login.status).toBe(200);
});
