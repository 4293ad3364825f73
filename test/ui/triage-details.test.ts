import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

/**
 * Issue 18 item 5: what a triaging engineer needs on the rows: CVSS, target and package type on findings, image names
 * and the new verdict's reasons on dry-run rows, repository and tag on exception rows, the narrowest grant scope by
 * default, and no overview link that would list every non-compliant image.
 */
let app: TestApp;
let admin: BrowserSession;
const FLUENTD = fakeDigest("triage-fluentd");
const ALPINE = fakeDigest("triage-alpine");
const NAMELESS = fakeDigest("triage-nameless");

const upload = (query: string, body: Buffer) =>
  app.http.post(`/v1/reports${query}`).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body.toString());

beforeAll(async () => {
  app = await startTestApp();
  await upload(`?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.0`, readFixture("fluentd-gems.json.golden")).expect(201);
  await upload(`?digest=${ALPINE}&image=registry.example.com/base/alpine:3.10`, readFixture("alpine-310.json.golden")).expect(201);
  admin = new BrowserSession(app.service.url);
  await admin.signIn(app.adminToken);
});
afterAll(async () => app.close());

const tbody = (page: string, tableClass: string) => /<tbody>([\s\S]*?)<\/tbody>/.exec(page.slice(page.indexOf(`<table class="table ${tableClass}`)))?.[1] ?? "";

test("when an image's findings are listed, then each row shows the CVSS score, the target with its class and the package type", async () => {
  const { rows } = await app.database.db.pool.query<{ vulnerability_id: string; target: string; pkg_type: string; class: string; cvss: string }>(
    `SELECT f.vulnerability_id, f.target, f.pkg_type, f.class, v.cvss_score::text AS cvss
     FROM current_findings f JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE f.image_digest = $1 AND v.cvss_score IS NOT NULL AND f.pkg_type = 'gemspec' ORDER BY f.finding_id LIMIT 1`,
    [FLUENTD],
  );
  const f = rows[0]!;
  const page = await admin.get(`/ui/images/${FLUENTD}?sort=id`);
  expect(page.status).toBe(200);
  expect(page.text).toMatch(/<th scope="col" class="num">CVSS<\/th>/);
  expect(page.text).toMatch(/<th scope="col">Target<\/th>/);
  const body = tbody(page.text, "findings-table");
  const row = body.split("<tr").find((r) => r.includes(`/ui/vulnerabilities/${f.vulnerability_id}"`))!;
  expect(row).toContain(`<td class="num">${Number(f.cvss).toFixed(1)}</td>`);
  expect(row).toContain(`<code class="path">${f.target}</code>`);
  expect(row).toContain(`<div class="small muted">${f.class}</div>`);
  expect(row).toContain(`<div class="small muted">gemspec</div>`);
  // A finding whose vulnerability has no score shows a dash, not 0.
  await app.database.db.pool.query("UPDATE vulnerabilities SET cvss_score = NULL WHERE id = $1", [f.vulnerability_id]);
  const after = tbody((await admin.get(`/ui/images/${FLUENTD}?sort=id`)).text, "findings-table");
  expect(after.split("<tr").find((r) => r.includes(`/ui/vulnerabilities/${f.vulnerability_id}"`))).toContain(`<td class="num"><span class="muted">—</span></td>`);
});

test("when a stricter policy is previewed, then each changed row names the image as repository:tag and lists the new verdict's reasons", async () => {
  await admin.post("/ui/policy", { _csrf: await admin.csrf(), max_CRITICAL: "1000", unscanned: "deny", action: "save" });
  const preview = await admin.post("/ui/policy", { _csrf: await admin.csrf(), max_HIGH: "0", max_MEDIUM: "0", max_LOW: "0", unscanned: "deny", action: "dry-run" });
  expect(preview.status).toBe(200);
  const body = tbody(preview.text, "dry-run-table");
  expect(body).toContain(`<a href="/ui/images/${FLUENTD}">registry.example.com/ops/fluentd:1.0</a>`);
  expect(body).toContain(`<a href="/ui/images/${ALPINE}">registry.example.com/base/alpine:3.10</a>`);
  expect(body).toMatch(/<span class="reason-code">severity_threshold<\/span> \d+ (HIGH|MEDIUM|LOW) vulnerabilit/);
  expect(body).not.toContain("no reasons");
  // Back to the lenient policy: the rows that would turn compliant say so instead of "no reasons".
  const lenient = await admin.post("/ui/policy", { _csrf: await admin.csrf(), max_CRITICAL: "1000", unscanned: "deny", action: "save" });
  expect(lenient.status).toBe(303);
  await admin.post("/ui/policy", { _csrf: await admin.csrf(), max_HIGH: "0", max_MEDIUM: "0", max_LOW: "0", unscanned: "deny", action: "save" });
  const back = await admin.post("/ui/policy", { _csrf: await admin.csrf(), max_CRITICAL: "1000", unscanned: "deny", action: "dry-run" });
  expect(tbody(back.text, "dry-run-table")).toContain("May run: nothing in its current report breaks the edited rules.");
});

test("when exceptions are listed, then image-scoped rows show repository:tag linked to the image, and repository rows link to its images", async () => {
  const csrf = await admin.csrf();
  const grant = (fields: Record<string, string>) =>
    admin.post(`/ui/images/${FLUENTD}/exceptions`, { _csrf: csrf, vulnerability_id: "CVE-2019-18224", reason: "triage", expires_on: "2099-01-01", ...fields });
  expect((await grant({ scope: "image" })).status).toBe(303);
  expect((await grant({ scope: "repository", repository: "registry.example.com/ops/fluentd" })).status).toBe(303);
  for (const path of ["/ui/exceptions", "/ui/vulnerabilities/CVE-2019-18224"]) {
    const body = tbody((await admin.get(path)).text, "exceptions-table");
    expect(body).toContain(`image <a href="/ui/images/${FLUENTD}">registry.example.com/ops/fluentd:1.0</a>`);
    expect(body).toContain(`repository <a href="/ui/images?repository=registry.example.com%2Fops%2Ffluentd"><code>registry.example.com/ops/fluentd</code></a>`);
  }
});

test("when a grant form opens, then the narrowest scope is chosen: this image on an image page, a repository glob on a vulnerability page", async () => {
  const checked = (page: string) => [...page.matchAll(/<input type="radio" name="scope" value="([a-z]+)" checked>/g)].map((m) => m[1]);
  expect(checked((await admin.get(`/ui/images/${ALPINE}`)).text)).toEqual(["image"]);
  expect(checked((await admin.get("/ui/vulnerabilities/CVE-2019-18224")).text)).toEqual(["glob"]);
  // A glob left empty is refused, nothing is stored.
  const before = (await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions")).rows[0].n;
  const res = await admin.post("/ui/vulnerabilities/CVE-2019-18224/exceptions", { _csrf: await admin.csrf(), scope: "glob", repository: "", reason: "x", expires_on: "2099-01-01" });
  expect(res.status).toBe(422);
  expect((await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions")).rows[0].n).toBe(before);
});

test("when non-compliant images have no repository, then the overview's (unknown repository) row is not a link to every non-compliant image", async () => {
  await app.database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, is_compliant, status, policy_version, critical_count, scanned_at, first_seen_at)
     VALUES ($1, NULL, '{}', false, 'non_compliant', 1, 3, now(), now())`,
    [NAMELESS],
  );
  const page = (await admin.get("/ui/")).text;
  const section = page.slice(page.indexOf('id="repo-h"'), page.indexOf('id="exp-h"'));
  expect(section).toContain(`<th scope="row"><span class="muted">(unknown repository)</span></th>`);
  expect(section).not.toMatch(/href="\/ui\/images\?status=non_compliant"/);
});
