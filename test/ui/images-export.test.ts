import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

let app: TestApp;
let browser: BrowserSession;
const SMALL = fakeDigest("csv-small");
const BIG = fakeDigest("csv-big");
const CLEAN = fakeDigest("csv-clean");

beforeAll(async () => {
  app = await startTestApp();
  await app.database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, is_compliant, status, policy_version, critical_count, high_count, medium_count, low_count, fixable_count, scanned_at, first_seen_at)
     VALUES ($1, 'docker.io/team/small', '{1.0}', false, 'non_compliant', 1, 1, 0, 0, 2, 1, '2026-01-03', '2026-01-01'),
            ($2, '=HYPERLINK("http://evil","x")', '{@latest,-x}', false, 'non_compliant', 1, 5, 200, 10, 21, 30, '2026-01-02', '2026-01-02'),
            ($3, 'docker.io/team/clean', '{}', true, 'compliant', 1, 0, 0, 0, 0, 0, NULL, '2026-01-03')`,
    [SMALL, BIG, CLEAN],
  );
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

const lines = (text: string) => text.split("\r\n").filter((l) => l !== "");

test("when exporting the images list, then the CSV has every image in the list's order, formula-like cells defused", async () => {
  const res = await browser.get("/ui/images?format=csv");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="images-\d{4}-\d{2}-\d{2}\.csv"$/);
  const rows = lines(res.text);
  expect(rows[0]).toBe("image_digest,repository,tags,status,critical,high,medium,low,unknown,fixable,secrets,misconfigurations,scanned_at,first_seen_at,evaluated_at,policy_version");
  expect(rows.slice(1).map((r) => r.split(",")[0])).toEqual([BIG, SMALL, CLEAN]);
  expect(rows[1]).toMatch(new RegExp(`^${BIG},"'=HYPERLINK\\(""http://evil"",""x""\\)",'@latest -x,non_compliant,5,200,10,21,0,30,0,0,2026-01-02T00:00:00.000Z,2026-01-02T00:00:00.000Z,`));
  expect(rows[3]).toMatch(new RegExp(`^${CLEAN},docker.io/team/clean,,compliant,0,0,0,0,0,0,0,0,,2026-01-03T00:00:00.000Z,`));
});

test("when exporting a filtered, sorted list, then the CSV holds only the matching images, in that sort, and the page links to it", async () => {
  const page = await browser.get("/ui/images?status=non_compliant&sort=low&order=asc");
  expect(page.text).toContain(`href="/ui/images?status=non_compliant&amp;sort=low&amp;order=asc&amp;format=csv">Export CSV</a>`);
  const csv = await browser.get("/ui/images?status=non_compliant&sort=low&order=asc&format=csv");
  expect(lines(csv.text).slice(1).map((r) => r.split(",")[0])).toEqual([SMALL, BIG]);
  const searched = await browser.get("/ui/images?q=clean&format=csv");
  expect(lines(searched.text).slice(1).map((r) => r.split(",")[0])).toEqual([CLEAN]);
});

test("when the list is longer than one read, then the export still has every image exactly once", async () => {
  await app.database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, is_compliant, status, policy_version)
     SELECT 'sha256:' || lpad(to_hex(n), 64, '0'), 'docker.io/bulk/many', true, 'compliant', 1 FROM generate_series(1, 1203) AS n`,
  );
  const csv = await browser.get("/ui/images?repository=docker.io/bulk/many&format=csv");
  const digests = lines(csv.text).slice(1).map((r) => r.split(",")[0]);
  expect(digests).toHaveLength(1203);
  expect(new Set(digests).size).toBe(1203);
  expect(digests).toEqual([...digests].sort());
});

test("when the list is not signed in, then the export redirects to sign-in and sends no data", async () => {
  const res = await fetch(`${app.service.url}/ui/images?format=csv`, { redirect: "manual" });
  expect(res.status).toBe(303);
  expect(await res.text()).not.toContain("sha256:");
});
