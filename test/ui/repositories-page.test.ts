/**
 * The repositories view (/ui/repositories, issue 18 item 1): tags and digests grouped by repository with their
 * verdicts, and the pagination property under every sort.
 */
import fc from "fast-check";
import { assertPagination, digestArbitrary } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

jest.setTimeout(180_000);

let app: TestApp;
let browser: BrowserSession;
const pool = () => app.database.db.pool;

beforeAll(async () => {
  app = await startTestApp();
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
function tableRows(page: string): string[] {
  const table = /<table class="table repositories-table">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
  return (/<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "").split("<tr>").slice(1);
}
const names = (page: string) => tableRows(page).map((r) => unescape(/<th scope="row"><a href="[^"]+">([^<]+)<\/a>/.exec(r)![1]!));
const nextLink = (page: string): string | null => {
  const m = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(page);
  return m ? unescape(m[1]!) : null;
};
async function get(path: string): Promise<string> {
  const res = await browser.get(path);
  expect(res.status).toBe(200);
  return res.text;
}

test("when repositories are listed, then each shows its verdict counts and its digests with their tags and verdicts, newest scan first", async () => {
  const [OLD, NEW, BAD, OTHER] = ["old", "new", "bad", "other"].map((n) => fakeDigest(`repo-${n}`));
  await pool().query(
    `INSERT INTO image_scans (image_digest, repository, tags, is_compliant, status, policy_version, critical_count, scanned_at, first_seen_at)
     VALUES ($1, 'ghcr.io/acme/api', '{1.0,stable}', true, 'compliant', 1, 0, '2026-01-01', '2026-01-01'),
            ($2, 'ghcr.io/acme/api', '{1.1,latest}', true, 'compliant', 1, 0, '2026-01-03', '2026-01-03'),
            ($3, 'ghcr.io/acme/api', '{1.1-rc}', false, 'non_compliant', 1, 4, '2026-01-02', '2026-01-02'),
            ($4, 'ghcr.io/acme/web', '{}', true, 'compliant', 1, 0, NULL, '2026-01-02')`,
    [OLD, NEW, BAD, OTHER],
  );
  const page = await get("/ui/repositories");
  expect(names(page)).toEqual(["ghcr.io/acme/api", "ghcr.io/acme/web"]); // the one with a non-compliant image first
  const api = tableRows(page)[0]!;
  expect(api).toContain(`href="/ui/images?repository=ghcr.io%2Facme%2Fapi"`);
  expect(api).toMatch(/Non-compliant<\/span> <span class="count-of">1<\/span>/);
  expect(api).toMatch(/Compliant<\/span> <span class="count-of">2<\/span>/);
  expect(api).toMatch(/<td class="num">3<\/td>\s*<td class="num">5<\/td>/); // 3 digests, 5 distinct tags
  const order = [...api.matchAll(/<a href="\/ui\/images\/(sha256:[0-9a-f]{64})">/g)].map((m) => m[1]);
  expect(order).toEqual([NEW, BAD, OLD]);
  expect(api).toMatch(new RegExp(`Non-compliant</span> <a href="/ui/images/${BAD}"><span class="tag">1.1-rc</span></a>`));
  expect(tableRows(page)[1]).toContain(`<span class="muted">untagged</span>`);
  expect(names(await get("/ui/repositories?q=WEB"))).toEqual(["ghcr.io/acme/web"]);
  expect(names(await get("/ui/repositories?sort=repository&order=desc"))).toEqual(["ghcr.io/acme/web", "ghcr.io/acme/api"]);
  expect((await browser.get("/ui/repositories?sort=1;DROP&page=x")).status).toBe(200);
  expect(await get("/ui/images")).toContain(`<a href="/ui/repositories">By repository →</a>`);
});

test("/ui/repositories: following Next page shows every repository once, in the chosen sort, ties included", async () => {
  const SORTS = ["non_compliant", "images", "last_scanned_at", "repository"] as const;
  type Image = { digest: string; repository: string; bad: boolean; scanned: number | null };
  const image: fc.Arbitrary<Image> = fc.record({
    digest: digestArbitrary,
    repository: fc.integer({ min: 1, max: 70 }).map((n) => `r/${String(n).padStart(3, "0")}`),
    bad: fc.boolean(),
    scanned: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
  });
  await assertPagination({
    rows: fc.record({
      images: fc.uniqueArray(image, { maxLength: 140, size: "max", selector: (i) => i.digest }),
      sort: fc.constantFrom<string | undefined>(undefined, ...SORTS),
      order: fc.constantFrom<"asc" | "desc" | undefined>(undefined, "asc", "desc"),
    }),
    pageSizes: fc.constant(25),
    numRuns: 15,
    async seed({ images, sort, order }) {
      await pool().query("DELETE FROM image_scans");
      await pool().query(
        `INSERT INTO image_scans (image_digest, repository, is_compliant, status, policy_version, scanned_at, first_seen_at)
         SELECT d, r, NOT b, CASE WHEN b THEN 'non_compliant' ELSE 'compliant' END, 1, sa, now()
         FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[]) AS x(d, r, b, sa)`,
        [images.map((i) => i.digest), images.map((i) => i.repository), images.map((i) => i.bad), images.map((i) => (i.scanned === null ? null : new Date(Date.UTC(2026, 0, 1 + i.scanned))))],
      );
      const repos = new Map<string, { name: string; images: number; bad: number; last: number | null }>();
      for (const i of images) {
        const r = repos.get(i.repository) ?? { name: i.repository, images: 0, bad: 0, last: null };
        r.images++;
        if (i.bad) r.bad++;
        if (i.scanned !== null && (r.last === null || i.scanned > r.last)) r.last = i.scanned;
        repos.set(i.repository, r);
      }
      const field = sort ?? "non_compliant";
      const dir = sort === undefined ? -1 : (order ?? (field === "repository" ? "asc" : "desc")) === "asc" ? 1 : -1;
      type R = { name: string; images: number; bad: number; last: number | null };
      const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
      const byName = (a: R, b: R) => (a.name < b.name ? -1 : 1);
      const by: Record<string, (a: R, b: R) => number> = {
        non_compliant: (a, b) => cmp(a.bad, b.bad) * dir || cmp(b.images, a.images) || byName(a, b),
        images: (a, b) => cmp(a.images, b.images) * dir || cmp(b.bad, a.bad) || byName(a, b),
        last_scanned_at: (a, b) =>
          (a.last === b.last ? 0 : a.last === null ? 1 : b.last === null ? -1 : cmp(a.last, b.last) * dir) || cmp(b.bad, a.bad) || cmp(b.images, a.images) || byName(a, b),
        repository: (a, b) => byName(a, b) * dir,
      };
      return [...repos.values()].sort(by[field]!).map((r) => r.name);
    },
    async fetchPage(_size, cursor: string | null, { sort, order }) {
      const query = new URLSearchParams({ ...(sort ? { sort } : {}), ...(order ? { order } : {}) }).toString();
      const text = await get(cursor ?? `/ui/repositories${query ? `?${query}` : ""}`);
      return { keys: names(text), next: nextLink(text) };
    },
  });
});
