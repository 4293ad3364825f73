/**
 * Settings → Notifications in the dashboard: an admin adds, tests and deletes destinations and adds rules through
 * the forms (CSRF-protected), sees recent deliveries; a policy:write person manages rules only; a read-only person
 * sees no buttons. URLs show their origin only.
 */
import { startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession, csrfOf } from "./browser-session";

const PAGE = "/ui/settings/notifications";
let app: TestApp;
let receiver: Receiver;
let admin: BrowserSession;

beforeAll(async () => {
  receiver = await startReceiver();
  app = await startTestApp({ env: { NOTIFICATION_ALLOW_PRIVATE_NETWORKS: "true" } });
  admin = new BrowserSession(app.service.url);
  await admin.signIn(app.adminToken);
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});

const destinationId = async (name: string) => (await app.database.db.pool.query("SELECT id FROM notification_destinations WHERE name = $1", [name])).rows[0]?.id as string | undefined;

test("when an admin adds a signed destination through the form, then it is listed by origin only and its secret is stored, never shown", async () => {
  const page = await admin.get(PAGE);
  expect(page.status).toBe(200);
  expect(page.text).toContain('href="/ui/settings/notifications" aria-current="page">Notifications</a>');
  const res = await admin.post(`${PAGE}/destinations`, {
    _csrf: csrfOf(page.text),
    name: "ui-hook",
    type: "webhook",
    url: `${receiver.url}/secret-path/T000/B000/XXXX`,
    secret: "ui-secret-0123456789abcdef",
  });
  expect(res.status).toBe(303);
  expect(res.location).toBe(`${PAGE}?added=1`);
  const after = await admin.get(res.location!);
  expect(after.text).toContain("Destination added.");
  expect(after.text).toContain(`<code>${receiver.url}</code>`);
  expect(after.text).not.toContain("secret-path");
  expect(after.text).not.toContain("ui-secret-0123456789abcdef");
  const { rows } = await app.database.db.pool.query("SELECT secret FROM notification_destinations WHERE name = 'ui-hook'");
  expect(rows[0].secret).toBe("ui-secret-0123456789abcdef");
});

test("when a form posts without the CSRF token, then 403 and nothing is written", async () => {
  const before = await app.database.rowCounts();
  const res = await admin.post(`${PAGE}/destinations`, { name: "csrf-less", type: "webhook", url: `${receiver.url}/x` });
  expect(res.status).toBe(403);
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when the destination form is invalid, then the page comes back 422 with the errors and the values, and nothing is written", async () => {
  const page = await admin.get(PAGE);
  const before = await app.database.rowCounts();
  const res = await admin.post(`${PAGE}/destinations`, { _csrf: csrfOf(page.text), name: "bad", type: "webhook", url: "http://169.254.169.254/latest/meta-data/", secret: "" });
  expect(res.status).toBe(422);
  expect(res.text).toContain("address refused");
  expect(res.text).toContain('value="bad"');
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when an admin sends a test and adds a rule, then the outcome and the rule are shown, and the attempt is among recent deliveries", async () => {
  const id = (await destinationId("ui-hook"))!;
  const page = await admin.get(PAGE);
  const tested = await admin.post(`${PAGE}/destinations/${id}/test`, { _csrf: csrfOf(page.text) });
  expect(tested.status).toBe(303);
  const shown = await admin.get(tested.location!);
  expect(shown.text).toContain("Test message to <strong>ui-hook</strong> delivered (HTTP 200).");
  expect(receiver.requests.at(-1)!.path).toBe("/secret-path/T000/B000/XXXX");
  const rule = await admin.post(`${PAGE}/rules`, {
    _csrf: csrfOf(shown.text),
    rule_name: "ui rule",
    destination_id: id,
    events: ["verdict.changed", "exception.expiring"],
    repository: "ghcr.io/acme/*",
    cluster: "",
    namespace: "",
    min_severity: "HIGH",
  });
  expect(rule.status).toBe(303);
  const withRule = await admin.get(rule.location!);
  expect(withRule.text).toContain("Rule added.");
  expect(withRule.text).toMatch(/<th scope="row">ui rule<\/th><td>Verdict changed, Exception expiring<\/td><td>repository <code>ghcr.io\/acme\/\*<\/code>, severity ≥ HIGH<\/td>/);
  expect(withRule.text).toMatch(/<td>Test<\/td><td>ui-hook<\/td>\s*<td>1<\/td><td><span class="badge badge-compliant">delivered<\/span><\/td>/);
});

test("when a policy:write person opens the page, then they can add and delete rules but not destinations", async () => {
  const writer = new BrowserSession(app.service.url);
  await writer.signIn(await app.token("policy:write", "compliance:read"));
  const page = await writer.get(PAGE);
  expect(page.status).toBe(200);
  expect(page.text).toContain("Add a rule");
  expect(page.text).not.toContain("Add a destination");
  expect(page.text).not.toContain("Send test");
  const id = (await destinationId("ui-hook"))!;
  const refused = await writer.post(`${PAGE}/destinations/${id}/delete`, { _csrf: csrfOf(page.text) });
  expect(refused.status).toBe(403);
  const ruleId = (await app.database.db.pool.query("SELECT id FROM notification_rules WHERE name = 'ui rule'")).rows[0].id;
  const deleted = await writer.post(`${PAGE}/rules/${ruleId}/delete`, { _csrf: csrfOf(page.text) });
  expect(deleted.status).toBe(303);
  expect((await app.database.db.pool.query("SELECT count(*)::int AS n FROM notification_rules")).rows[0].n).toBe(0);
});

test("when a read-only person opens the page, then it lists destinations and deliveries without a single form that changes anything", async () => {
  const reader = new BrowserSession(app.service.url);
  await reader.signIn(await app.token("compliance:read"));
  const page = await reader.get(PAGE);
  expect(page.status).toBe(200);
  expect(page.text).toContain("ui-hook");
  expect(page.text).not.toMatch(/action="\/ui\/settings/);
  const res = await reader.post(`${PAGE}/rules`, { _csrf: csrfOf(page.text), rule_name: "x", destination_id: "x", events: "verdict.changed" });
  expect(res.status).toBe(403);
});

test("when an admin deletes the destination, then it is gone and its recorded attempts remain", async () => {
  const id = (await destinationId("ui-hook"))!;
  const page = await admin.get(PAGE);
  const res = await admin.post(`${PAGE}/destinations/${id}/delete`, { _csrf: csrfOf(page.text) });
  expect(res.status).toBe(303);
  const after = await admin.get(res.location!);
  expect(after.text).toContain("Destination deleted, with its rules.");
  expect(after.text).toMatch(/<td>Test<\/td><td><span class="muted">deleted<\/span><\/td>/);
  expect(await destinationId("ui-hook")).toBeUndefined();
});
