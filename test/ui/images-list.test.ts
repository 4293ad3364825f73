import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

let app: TestApp;
let browser: BrowserSession;
const SMALL = fakeDigest("sort-small");
const BIG = fakeDigest("sort-big");
const CLEAN = fakeDigest("sort-clean");

beforeAll(async () => {
  app = await startTestApp();
  await app.database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, is_compliant, status, policy_version, critical_count, high_count, medium_count, low_count, fixable_count, scanned_at, first_seen_at)
     VALUES ($1, 'docker.io/team/small', '{1.0}', false, 'non_compliant', 1, 1, 0, 0, 2, 1, '2026-01-03', '2026-01-01'),
            ($2, '=AAA("http://evil")', '{@latest,-x}', false, 'non_compliant', 1, 5, 200, 10, 21, 30, '2026-01-02', '2026-01-02'),
            ($3, 'docker.io/team/clean', '{}', true, 'compliant', 1, 0, 0, 0, 0, 0, NULL, '2026-01-03')`,
    [SMALL, BIG, CLEAN],
  );
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
const order = (page: string) => [...page.matchAll(/<a class="strong" href="\/ui\/images\/(sha256:[0-9a-f]{64})"/g)].map((m) => m[1]);
async function get(path: string): Promise<string> {
  const res = await browser.get(path);
  expect(res.status).toBe(200);
  return res.text;
}

test("when the images list opens, then it is riskiest first; a column's sort and order come from the URL; unknown sorts fall back to it", async () => {
  expect(order(await get("/ui/images"))).toEqual([BIG, SMALL, CLEAN]);
  expect(order(await get("/ui/images?sort=status&order=asc"))).toEqual([CLEAN, BIG, SMALL]);
  expect(order(await get("/ui/images?sort=scanned_at&order=desc"))).toEqual([SMALL, BIG, CLEAN]); // never scanned: last either way
  expect(order(await get("/ui/images?sort=scanned_at&order=asc"))).toEqual([BIG, SMALL, CLEAN]);
  expect(order(await get("/ui/images?sort=first_seen_at"))).toEqual([CLEAN, BIG, SMALL]);
  expect(order(await get("/ui/images?sort=low&order=asc"))).toEqual([CLEAN, SMALL, BIG]);
  expect(order(await get("/ui/images?sort=repository&order=asc"))).toEqual([BIG, CLEAN, SMALL]);
  expect(order(await get("/ui/images?sort=image_digest;DROP&order=sideways"))).toEqual([BIG, SMALL, CLEAN]);
});

test("when sorting a filtered list, then the column headers keep the filters and mark the sorted column", async () => {
  const page = await get("/ui/images?status=non_compliant&q=team&sort=critical&order=desc");
  const links = [...page.matchAll(/<a href="(\/ui\/images\?[^"]+)">/g)].map((m) => unescape(m[1]!));
  expect(links).toContain("/ui/images?status=non_compliant&q=team&sort=repository&order=asc");
  expect(links).toContain("/ui/images?status=non_compliant&q=team&sort=scanned_at&order=desc");
  expect(page).toContain(`<a href="/ui/images?status=non_compliant&amp;q=team&amp;sort=critical&amp;order=asc">C <span aria-hidden="true">▼</span></a>`);
  expect(page).toMatch(/<th scope="col" aria-sort="descending">Vulnerabilities/);
  expect(page).toContain(`<input type="hidden" name="sort" value="critical">`);
  expect(order(page)).toEqual([SMALL]);
});

test("when images have very different finding counts, then their severity bars are as long as their totals, relative to the page's largest", async () => {
  const page = await get("/ui/images");
  const barLength = (digest: string) => {
    const row = page.slice(page.indexOf(`href="/ui/images/${digest}"`));
    const svg = /<svg role="img"[^>]*>([\s\S]*?)<\/svg>/.exec(row)![1]!;
    return [...svg.matchAll(/width="([\d.]+)"/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  expect(barLength(BIG)).toBeCloseTo(120, 0);
  expect(barLength(SMALL)).toBeLessThan(10);
  expect(barLength(SMALL)).toBeGreaterThan(0);
  expect(page).toContain(`aria-label="1 critical, 2 low"`);
});
