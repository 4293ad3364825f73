import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

let app: TestApp;
let admin: BrowserSession;
const HOSTILE = fakeDigest("ui-hostile");
const FLUENTD = fakeDigest("ui-fluentd");
const FLUENTD_CRITICAL = "CVE-2019-18224";
const juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
const juiceBytes = readFixture("juice-shop-v10.2.0.json");
const HOSTILE_PKG = `<script>alert("pkg")</script>`;
const HOSTILE_TITLE = `"><img src=x onerror=alert(1)>`;

const upload = (query: string, body: Buffer | string) =>
  app.http.post(`/v1/reports${query}`).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body.toString());

beforeAll(async () => {
  app = await startTestApp();
  const hostile = readFixtureJson("alpine-310.json.golden");
  hostile.Results[0].Vulnerabilities[0].PkgName = HOSTILE_PKG;
  hostile.Results[0].Vulnerabilities[0].Title = HOSTILE_TITLE;
  await upload(`?digest=${HOSTILE}&image=registry.example.com/team/hostile:1&source=${encodeURIComponent("<b>ci</b>")}`, JSON.stringify(hostile)).expect(201);
  await upload("", juiceBytes).expect(201);
  await upload(`?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.0`, readFixture("fluentd-gems.json.golden")).expect(201);
  const auth = { Authorization: `Bearer ${app.adminToken}` };
  await app.http.get(`/v1/images/${HOSTILE}/compliance`).query({ namespace: "prod" }).set(auth).expect(200);
  await app.http.get(`/v1/images/${juiceDigest}/compliance`).query({ namespace: "prod" }).set(auth).expect(200);
  await app.http.get(`/v1/images/${juiceDigest}/compliance`).query({ namespace: "dev" }).set(auth).expect(200);
  await app.flushDecisions();
  admin = new BrowserSession(app.service.url);
  await admin.signIn(app.adminToken);
});
afterAll(async () => app.close());

const rowsOf = (page: string, tableClass: string) => {
  const table = new RegExp(`<table class="table ${tableClass}">([\\s\\S]*?)</table>`).exec(page)?.[1] ?? "";
  return (/<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "").split("<tr").length - 1;
};

test("when a report carries markup in package names, titles and sources, then every page shows it as text", async () => {
  for (const path of [`/ui/images/${HOSTILE}`, "/ui/vulnerabilities/CVE-2019-1549", "/ui/images?q=hostile"]) {
    const page = await admin.get(path);
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/<script|<img|<b>ci/i);
    if (path.includes("images/")) {
      expect(page.text).toContain("&lt;script&gt;alert(&quot;pkg&quot;)&lt;/script&gt;");
      expect(page.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
      expect(page.text).toContain("&lt;b&gt;ci&lt;/b&gt;");
    }
    if (path.startsWith("/ui/vulnerabilities/")) {
      // The vulnerability's title and the affected image's package name (the source is not on this page).
      expect(page.text).toContain("&lt;script&gt;alert(&quot;pkg&quot;)&lt;/script&gt;");
      expect(page.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    }
    if (path.startsWith("/ui/images?")) {
      // The list shows repositories, tags and digests, none of the report's markup: what it must show is the hostile
      // image itself, or the absence check above looks at a page without it.
      expect(rowsOf(page.text, "images-table")).toBe(1);
      expect(page.text).toContain(`href="/ui/images/${HOSTILE}">registry.example.com/team/hostile</a>`);
    }
  }
  // Markup in the search term is echoed back in the search box as text.
  const searched = await admin.get(`/ui/images?q=${encodeURIComponent(HOSTILE_TITLE)}`);
  expect(searched.status).toBe(200);
  expect(searched.text).not.toMatch(/<img/i);
  expect(searched.text).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');
});

test("when the overview opens, then it counts verdicts, charts findings and decisions, and lists non-compliant repositories", async () => {
  const page = (await admin.get("/ui/")).text;
  const stat = (label: string) => Number(new RegExp(`<span class="stat-value">([\\d,]+)</span>\\s*<span class="stat-label">${label}</span>`).exec(page)?.[1]);
  expect(stat("Compliant")).toBe(1);
  expect(stat("Non-compliant")).toBe(2);
  const { rows } = await app.database.db.pool.query("SELECT sum(critical_count)::int AS c FROM image_scans");
  expect(page).toContain(`<title id="chart-`);
  expect(page).toMatch(new RegExp(`Findings by severity across current scans: Critical ${rows[0].c},`));
  expect(page).toMatch(/Admission decisions per day: 1 allowed and 2 denied over 14 days/);
  expect(page).toContain("docker.io/bkimminich/juice-shop");
  expect(page).toContain("registry.example.com/ops/fluentd");
});

test("when filtering images by verdict, repository or search, then only matching rows are listed, 50 to a page", async () => {
  const nonCompliant = (await admin.get("/ui/images?status=non_compliant")).text;
  expect(rowsOf(nonCompliant, "images-table")).toBe(2);
  expect(nonCompliant).not.toContain(">registry.example.com/team/hostile</a>");
  const byTag = (await admin.get("/ui/images?q=v10.2.0")).text;
  expect(rowsOf(byTag, "images-table")).toBe(1);
  expect(byTag).toContain(juiceDigest.slice(0, 19));
  const byRepo = (await admin.get(`/ui/images?repository=${encodeURIComponent("registry.example.com/ops/fluentd")}`)).text;
  expect(rowsOf(byRepo, "images-table")).toBe(1);

  const many = Array.from({ length: 55 }, (_, i) => fakeDigest(`ui-many-${i}`));
  for (const [n, digests] of [many.slice(0, 30), many.slice(30)].entries()) {
    const alpine = readFixtureJson("alpine-310.json.golden");
    alpine.Metadata.ImageID = `sha256:${String(n).repeat(64)}`; // different bytes for each upload (at most 50 digests each)
    await upload(`?${digests.map((d) => `digest=${d}`).join("&")}&image=registry.example.com/bulk/app:1`, JSON.stringify(alpine)).expect(201);
  }
  const repo = encodeURIComponent("registry.example.com/bulk/app");
  const first = (await admin.get(`/ui/images?repository=${repo}`)).text;
  expect(rowsOf(first, "images-table")).toBe(50);
  const next = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(first)?.[1]?.replace(/&amp;/g, "&");
  expect(next).toBeDefined();
  const second = (await admin.get(next!)).text;
  expect(rowsOf(second, "images-table")).toBe(5);
  expect(second).not.toContain('rel="next"');
});

test("when an image opens, then its findings filter by severity, kind and fixability and sort by a column", async () => {
  const { rows } = await app.database.db.pool.query(
    `SELECT count(*) FILTER (WHERE severity = 'CRITICAL')::int AS critical, count(*) FILTER (WHERE coalesce(fixed_version, '') = '')::int AS unfixed,
       count(*) FILTER (WHERE kind = 'secret')::int AS secrets FROM current_findings WHERE image_digest = $1`,
    [juiceDigest],
  );
  const critical = (await admin.get(`/ui/images/${juiceDigest}?severity=CRITICAL`)).text;
  expect(critical).toContain(`Findings <span class="count">${rows[0].critical}</span>`);
  expect(rowsOf(critical, "findings-table")).toBe(rows[0].critical);
  expect(critical).toContain("Non-compliant");
  expect(critical).toMatch(/severity_threshold/);
  const unfixed = (await admin.get(`/ui/images/${juiceDigest}?fixable=no`)).text;
  expect(unfixed).toContain(`Findings <span class="count">${rows[0].unfixed}</span>`);
  const secrets = (await admin.get(`/ui/images/${juiceDigest}?kind=secret`)).text;
  expect(secrets).toContain(`Findings <span class="count">${rows[0].secrets}</span>`);
  expect((await admin.get(`/ui/images/${HOSTILE}?kind=misconfiguration`)).text).toContain("No findings match.");
  const byPackage = (await admin.get(`/ui/images/${juiceDigest}?sort=package`)).text;
  expect(byPackage).toMatch(/<th scope="col" aria-sort="ascending"><a [^>]+>Package/);
  const packages = [...(/<table class="table findings-table">([\s\S]*?)<\/table>/.exec(byPackage)?.[1] ?? "").matchAll(/<td class="package">([^<]*)/g)].map((m) => m[1]!);
  expect(packages.length).toBeGreaterThan(10);
  expect(packages).toEqual([...packages].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

test("when downloading an image's raw report from the dashboard, then it is the stored copy: the report as uploaded, secret context masked", async () => {
  const page = (await admin.get(`/ui/images/${juiceDigest}`)).text;
  const link = /<a href="(\/ui\/reports\/[^"]+\/raw)" download>/.exec(page)?.[1];
  expect(link).toBeDefined();
  const res = await fetch(app.service.url + link!, { headers: { cookie: admin.cookieHeader } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-disposition")).toMatch(/attachment/);
  const downloaded = Buffer.from(await res.arrayBuffer());
  const api = await fetch(`${app.service.url}/v1${link!.slice(3)}`, { headers: { Authorization: `Bearer ${app.adminToken}` } });
  expect(downloaded.equals(Buffer.from(await api.arrayBuffer()))).toBe(true);
  // juice-shop has a secret finding (a private key in lib/insecurity.js): its code lines are masked, the rest is the upload.
  const uploaded = JSON.parse(juiceBytes.toString("utf8"));
  const stored = JSON.parse(downloaded.toString("utf8"));
  const secretsOf = (r: any) => r.Results.flatMap((x: any) => (x.Secrets ?? []).map((s: any) => ({ target: x.Target, s })));
  expect(secretsOf(stored).map(({ target, s }: any) => [target, s.RuleID, s.StartLine, s.Code.Lines.map((l: any) => l.Number)])).toEqual(
    secretsOf(uploaded).map(({ target, s }: any) => [target, s.RuleID, s.StartLine, s.Code.Lines.map((l: any) => l.Number)]),
  );
  expect(downloaded.toString("utf8")).not.toContain("fs.readFileSync('encryptionkeys/jwt.pub'");
  const withoutSecrets = (r: any) => ({ ...r, Results: r.Results.map((x: any) => ({ ...x, Secrets: undefined })) });
  expect(withoutSecrets(stored)).toEqual(withoutSecrets(uploaded));
  const anonymous = await fetch(app.service.url + link!, { redirect: "manual" });
  expect(anonymous.status).toBe(303);
});

test("when granting an exception from an image without a reason or expiry, then the form is shown again and nothing is stored", async () => {
  const csrf = await admin.csrf();
  const res = await admin.post(`/ui/images/${FLUENTD}/exceptions`, { _csrf: csrf, vulnerability_id: FLUENTD_CRITICAL, scope: "image", reason: " ", expires_on: "" });
  expect(res.status).toBe(422);
  expect(res.text).toContain("Say why the risk is accepted.");
  expect(res.text).toContain("Choose an expiry date");
  const past = await admin.post(`/ui/images/${FLUENTD}/exceptions`, { _csrf: csrf, vulnerability_id: FLUENTD_CRITICAL, scope: "image", reason: "x", expires_on: "2000-01-01" });
  expect(past.status).toBe(422);
  expect(past.text).toContain("must be in the future");
  const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions");
  expect(rows[0].n).toBe(0);
});

test("when an exception is granted from an image and withdrawn again, then the verdict turns compliant and back", async () => {
  const csrf = await admin.csrf();
  const granted = await admin.post(`/ui/images/${FLUENTD}/exceptions`, {
    _csrf: csrf,
    vulnerability_id: FLUENTD_CRITICAL,
    scope: "image",
    reason: "Only used in the build stage; ticket SEC-42",
    expires_on: "2099-12-31",
    justification: "vulnerable_code_not_in_execute_path",
  });
  expect(granted.status).toBe(303);
  const page = (await admin.get(granted.location!)).text;
  expect(page).toContain("Exception granted for 1 vulnerability");
  expect(page).toMatch(/class="verdict verdict-compliant"/);
  expect(page).toContain("Excepted");
  const { rows } = await app.database.db.pool.query("SELECT id, image_digest, created_by, expires_at, justification FROM policy_exceptions");
  expect(rows).toEqual([
    expect.objectContaining({ image_digest: FLUENTD, created_by: "admin (ADMIN_TOKEN)", expires_at: new Date("2100-01-01T00:00:00Z"), justification: "vulnerable_code_not_in_execute_path" }),
  ]);
  const lookup = await app.http.get(`/v1/images/${FLUENTD}/compliance`).set({ Authorization: `Bearer ${app.adminToken}` });
  expect(lookup.body).toMatchObject({ is_compliant: true });

  const list = (await admin.get("/ui/exceptions")).text;
  expect(list).toContain(FLUENTD_CRITICAL);
  const withdrawn = await admin.post(`/ui/exceptions/${rows[0].id}/withdraw`, { _csrf: csrf, return_to: "/ui/exceptions" });
  expect(withdrawn.status).toBe(303);
  expect(withdrawn.location).toBe("/ui/exceptions?withdrawn=1");
  expect((await admin.get("/ui/exceptions?state=revoked")).text).toContain(FLUENTD_CRITICAL);
  expect((await admin.get(`/ui/images/${FLUENTD}`)).text).toMatch(/class="verdict verdict-non_compliant"/);
});

test("when looking up a vulnerability, then every image that has it is listed and an exception can be scoped by glob", async () => {
  const page = (await admin.get(`/ui/vulnerabilities?id=${FLUENTD_CRITICAL.toLowerCase()}`));
  expect(page.status).toBe(303);
  expect(page.location).toBe(`/ui/vulnerabilities/${FLUENTD_CRITICAL}`);
  const vuln = (await admin.get(page.location!)).text;
  expect(vuln).toContain(FLUENTD);
  expect(vuln).toContain("registry.example.com/ops/fluentd");
  const res = await admin.post(`/ui/vulnerabilities/${FLUENTD_CRITICAL}/exceptions`, {
    _csrf: await admin.csrf(),
    scope: "glob",
    repository: "registry.example.com/ops/*",
    reason: "Accepted for ops images until the upgrade",
    expires_on: "2099-06-30",
  });
  expect(res.status).toBe(303);
  const { rows } = await app.database.db.pool.query("SELECT repository, image_digest FROM policy_exceptions WHERE revoked_at IS NULL");
  expect(rows).toEqual([{ repository: "registry.example.com/ops/*", image_digest: null }]);
  expect((await admin.get(`/ui/images/${FLUENTD}`)).text).toMatch(/verdict-compliant/);
  expect((await admin.get("/ui/vulnerabilities/CVE-0000-00000")).status).toBe(404);
});

test("when a policy change is previewed, then the images that would change are shown and nothing is saved; saving makes a new version", async () => {
  const csrf = await admin.csrf();
  // No severity limit that matters and secrets allowed: every non-compliant image would turn compliant.
  const fields = { _csrf: csrf, max_CRITICAL: "1000", unscanned: "deny" };
  const before = await app.database.db.pool.query("SELECT count(*) FILTER (WHERE NOT is_compliant)::int AS bad, count(*)::int AS n FROM image_scans");
  const { bad, n } = before.rows[0];
  expect(bad).toBeGreaterThan(0);
  const preview = await admin.post("/ui/policy", { ...fields, action: "dry-run" });
  expect(preview.status).toBe(200);
  expect(preview.text).toContain(`Dry run: ${bad} of ${n} images would change`); // n > 1 here
  expect(preview.text).toContain(juiceDigest.slice(0, 19));
  expect(preview.text).toMatch(/id="max-CRITICAL" name="max_CRITICAL" type="number"[^>]*value="1000"/);
  const versions = async () => (await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_versions")).rows[0].n;
  expect(await versions()).toBe(1);

  const invalid = await admin.post("/ui/policy", { ...fields, max_HIGH: "-3", action: "save" });
  expect(invalid.status).toBe(422);
  expect(await versions()).toBe(1);

  const saved = await admin.post("/ui/policy", { ...fields, action: "save" });
  expect(saved.status).toBe(303);
  expect(saved.location).toBe(`/ui/policy?saved=2&changed=${bad}`);
  const policyPage = (await admin.get(saved.location!)).text;
  expect(policyPage).toContain(`Policy version 2 is in force; ${bad} image verdict${bad === 1 ? "" : "s"} changed.`);
  expect(policyPage).toContain("CRITICAL ≤ 1000");
  expect(await versions()).toBe(2);
  expect((await admin.get(`/ui/images/${juiceDigest}`)).text).toMatch(/verdict-compliant/);
});

test("when several vulnerabilities are chosen in one grant, then they are stored together and the notice counts them", async () => {
  const res = await admin.post(`/ui/images/${HOSTILE}/exceptions`, {
    _csrf: await admin.csrf(),
    vulnerability_id: "CVE-2098-0001",
    other_vulnerability_id: "CVE-2098-0002, CVE-2098-0003",
    scope: "image",
    reason: "Batch grant",
    expires_on: "2099-01-31",
  });
  expect(res.status).toBe(303);
  expect((await admin.get(res.location!)).text).toContain("Exception granted for 3 vulnerabilities");
  const { rows } = await app.database.db.pool.query(
    "SELECT vulnerability_id, image_digest, created_at FROM policy_exceptions WHERE vulnerability_id LIKE 'CVE-2098-%' ORDER BY vulnerability_id",
  );
  expect(rows.map((r) => [r.vulnerability_id, r.image_digest])).toEqual([
    ["CVE-2098-0001", HOSTILE],
    ["CVE-2098-0002", HOSTILE],
    ["CVE-2098-0003", HOSTILE],
  ]);
  // One transaction: one grant time for all of them.
  expect(new Set(rows.map((r) => r.created_at.getTime())).size).toBe(1);
});
