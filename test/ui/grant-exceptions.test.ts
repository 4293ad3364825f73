import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

/**
 * Exception forms of the dashboard: only a stored change clears the caches and waits for every replica to hear it
 * (ChangeListener.awaitPropagation, up to 2 s); a refused form does neither.
 */
let app: TestApp;
let browser: BrowserSession;
const FLUENTD = fakeDigest("ui-grant-fluentd");
const FLUENTD_CRITICAL = "CVE-2019-18224";

beforeAll(async () => {
  app = await startTestApp();
  await app.http
    .post(`/v1/reports?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.0`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture("fluentd-gems.json.golden").toString())
    .expect(201);
  browser = new BrowserSession(app.service.url);
  await browser.signIn(await app.token("compliance:read", "policy:write"));
});
afterAll(async () => app.close());
afterEach(() => jest.restoreAllMocks());

/** Counts what the dashboard's afterPolicyChange does: clear this replica's verdicts, wait for the others. */
function watchPropagation() {
  const deps = app.service.deps;
  expect(deps.changes).toBeDefined();
  return {
    awaited: jest.spyOn(deps.changes!, "awaitPropagation"),
    cleared: jest.spyOn(deps.verdictCache, "clear"),
  };
}

const forms: Array<{ page: string; path: () => string; fields: Record<string, string> }> = [
  { page: "image", path: () => `/ui/images/${FLUENTD}/exceptions`, fields: { vulnerability_id: FLUENTD_CRITICAL, scope: "image" } },
  { page: "vulnerability", path: () => `/ui/vulnerabilities/${FLUENTD_CRITICAL}/exceptions`, fields: { scope: "repository", repository: "registry.example.com/ops/fluentd" } },
];

test.each(forms)("when the $page page's grant is refused (expiry already past), then no cache is cleared and no replica awaited", async ({ path, fields }) => {
  const csrf = await browser.csrf();
  const watch = watchPropagation();
  const res = await browser.post(path(), { _csrf: csrf, ...fields, reason: "build stage only", expires_on: "2000-01-01" });
  expect(res.status).toBe(422);
  expect(res.text).toContain("must be in the future");
  expect(watch.awaited).not.toHaveBeenCalled();
  expect(watch.cleared).not.toHaveBeenCalled();
  const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions");
  expect(rows[0].n).toBe(0);
});

test.each(forms)("when the $page page's grant is stored, then the caches are cleared and the replicas awaited once", async ({ path, fields }) => {
  const csrf = await browser.csrf();
  const watch = watchPropagation();
  const res = await browser.post(path(), { _csrf: csrf, ...fields, reason: "build stage only", expires_on: "2099-12-31" });
  expect(res.status).toBe(303);
  expect(watch.awaited).toHaveBeenCalledTimes(1);
  expect(watch.cleared).toHaveBeenCalled();
});

test.each(["not-an-id", "00000000-0000-4000-8000-000000000000"])("when a withdrawal names %s, then it answers 404 and nothing is propagated", async (id) => {
  const csrf = await browser.csrf();
  const watch = watchPropagation();
  const res = await browser.post(`/ui/exceptions/${id}/withdraw`, { _csrf: csrf });
  expect(res.status).toBe(404);
  expect(watch.awaited).not.toHaveBeenCalled();
});

test("when a grant form carries a created_by field, then the author stored is the signed-in token's name all the same", async () => {
  const csrf = await browser.csrf();
  const res = await browser.post(`/ui/images/${FLUENTD}/exceptions`, {
    _csrf: csrf,
    vulnerability_id: "CVE-2020-8165",
    scope: "image",
    reason: "author check",
    expires_on: "2099-12-31",
    created_by: "the-ciso",
  });
  expect(res.status).toBe(303);
  const { rows } = await app.database.db.pool.query("SELECT created_by FROM policy_exceptions WHERE reason = 'author check'");
  expect(rows).toEqual([{ created_by: "test-compliance:read+policy:write" }]);
});
