/**
 * The fleet-wide vulnerability list (/ui/vulnerabilities, issue 18 item 2): its figures against the database, its
 * filters and sorts from the URL, the links to it, and the pagination property under every sort.
 */
import fc from "fast-check";
import { readFixture } from "../support/fixtures";
import { assertPagination, digestArbitrary } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

jest.setTimeout(180_000);

let app: TestApp;
let browser: BrowserSession;
const pool = () => app.database.db.pool;
const FLUENTD = fakeDigest("fleet-fluentd");
const FLUENTD_OLD = fakeDigest("fleet-fluentd-old");
const ALPINE = fakeDigest("fleet-alpine");
const CVE = "CVE-2019-18224"; // in fluentd's debian layer

const upload = (query: string, body: Buffer) =>
  app.http.post(`/v1/reports${query}`).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body.toString());

async function runContainer(digest: string, name: string): Promise<void> {
  await pool().query(
    `INSERT INTO workload_containers (cluster, namespace, kind, name, container, image_digest, first_seen_at, last_seen_at, source)
     VALUES ('prod', 'web', 'Deployment', $2, 'app', $1, now(), now(), 'inventory')`,
    [digest, name],
  );
}

beforeAll(async () => {
  app = await startTestApp();
  await upload(`?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.1`, readFixture("fluentd-gems.json.golden")).expect(201);
  await upload(`?digest=${FLUENTD_OLD}&image=registry.example.com/ops/fluentd:1.0`, readFixture("fluentd-gems.json.golden")).expect((r) => expect([200, 201]).toContain(r.status));
  await upload(`?digest=${ALPINE}&image=registry.example.com/base/alpine:3.10`, readFixture("alpine-310.json.golden")).expect(201);
  await runContainer(FLUENTD, "api");
  await runContainer(FLUENTD, "worker");
  await runContainer(FLUENTD_OLD, "legacy");
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
function tableRows(page: string): string[] {
  const table = /<table class="table vulnerabilities-table">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
  return (/<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "").split("<tr").slice(1);
}
const ids = (page: string) => tableRows(page).map((r) => /<a href="\/ui\/vulnerabilities\/([^"]+)">/.exec(r)![1]!).map(decodeURIComponent);
const nextLink = (page: string): string | null => {
  const m = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(page);
  return m ? unescape(m[1]!) : null;
};
async function get(path: string): Promise<string> {
  const res = await browser.get(path);
  expect(res.status).toBe(200);
  return res.text;
}
/** Every row of the list, following Next page. */
async function allIds(path: string): Promise<string[]> {
  const out: string[] = [];
  for (let next: string | null = path; next; ) {
    const text = await get(next);
    out.push(...ids(text));
    next = nextLink(text);
  }
  return out;
}

test("when the fleet list opens, then each vulnerability shows its affected images, blocked ones, running containers, severity, CVSS, fix and exceptions", async () => {
  await browser.post(`/ui/images/${FLUENTD}/exceptions`, {
    _csrf: await browser.csrf(), vulnerability_id: CVE, scope: "image", reason: "fleet", expires_on: "2099-01-01",
  });
  const { rows } = await pool().query<{ images: number; non_compliant: number; cvss: string | null; fixable: boolean }>(
    `SELECT count(DISTINCT image_digest)::int AS images, count(DISTINCT image_digest) FILTER (WHERE NOT is_compliant)::int AS non_compliant,
       (SELECT cvss_score::text FROM vulnerabilities WHERE id = $1) AS cvss, bool_or(coalesce(fixed_version, '') <> '') AS fixable
     FROM current_findings WHERE vulnerability_id = $1`,
    [CVE],
  );
  const expected = rows[0]!;
  expect(expected.images).toBe(2);
  const page = await get("/ui/vulnerabilities?q=2019-18224");
  expect(ids(page)).toEqual([CVE]);
  const row = tableRows(page)[0]!;
  const cells = [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim());
  expect(cells[0]).toBe("CRITICAL");
  expect(cells[1]).toBe(expected.cvss === null ? "—" : Number(expected.cvss).toFixed(1));
  expect(cells[2]).toBe("2");
  expect(cells[3]).toBe(String(expected.non_compliant));
  expect(cells[4]).toBe("3"); // api and worker run FLUENTD, legacy runs FLUENTD_OLD
  expect(cells[5]).toBe(expected.fixable ? "fix available" : "no fix");
  expect(cells[6]).toBe("1 in force covering 1 of 2 images");
  expect(row).toContain(`<code class="pkg">libidn2-0</code>`);
});

test("when filters and sorts are in the URL, then the list follows them and keeps them in its links", async () => {
  const { rows } = await pool().query<{ id: string }>(
    `SELECT DISTINCT vulnerability_id AS id FROM current_findings WHERE kind = 'vulnerability' AND image_digest = $1 AND coalesce(status, '') <> 'not_affected'`,
    [ALPINE],
  );
  const alpineOnly = rows.map((r) => r.id).sort();
  expect((await allIds("/ui/vulnerabilities?repository=registry.example.com%2Fbase%2Falpine&sort=id&order=asc"))).toEqual(alpineOnly);
  // Running now: only fluentd's IDs (alpine runs nowhere).
  const running = await allIds("/ui/vulnerabilities?running=yes");
  expect(running.length).toBeGreaterThan(0);
  expect(running.filter((id) => alpineOnly.includes(id) && !running.includes(id))).toEqual([]);
  for (const id of running.slice(0, 5)) {
    const { rows: r } = await pool().query("SELECT 1 FROM current_findings WHERE vulnerability_id = $1 AND image_digest = ANY($2::text[])", [id, [FLUENTD, FLUENTD_OLD]]);
    expect(r.length).toBeGreaterThan(0);
  }
  const critical = await allIds("/ui/vulnerabilities?severity=CRITICAL");
  const { rows: crit } = await pool().query<{ id: string }>(
    `SELECT vulnerability_id AS id FROM current_findings WHERE kind = 'vulnerability' AND coalesce(status, '') <> 'not_affected'
     GROUP BY vulnerability_id HAVING min(array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], severity)) = 1`,
  );
  expect([...critical].sort()).toEqual(crit.map((r) => r.id).sort());
  const unfixed = await allIds("/ui/vulnerabilities?fixable=no");
  const fixed = await allIds("/ui/vulnerabilities?fixable=yes");
  expect(unfixed.filter((id) => fixed.includes(id))).toEqual([]);
  expect(unfixed.length + fixed.length).toBe((await allIds("/ui/vulnerabilities")).length);

  const page = await get("/ui/vulnerabilities?severity=HIGH&sort=cvss&order=desc");
  expect(page).toMatch(/<th scope="col" class="num" aria-sort="descending"><a [^>]*>CVSS/);
  expect(page).toContain(`href="/ui/vulnerabilities?severity=HIGH&amp;sort=images&amp;order=desc"`);
  expect(page).toContain(`<input type="hidden" name="sort" value="cvss">`);
  // Malformed values are ignored (the default applies), as on the images list.
  expect((await browser.get("/ui/vulnerabilities?sort=x;DROP&order=up&severity=nope&page=-1")).status).toBe(200);
});

test("when the nav, the overview or the header search are used, then they lead to the list or to one vulnerability", async () => {
  const overview = await get("/ui/");
  expect(overview).toContain(`<li><a href="/ui/vulnerabilities">Vulnerabilities</a></li>`);
  expect(overview).toMatch(/<a href="\/ui\/vulnerabilities">All vulnerabilities/);
  expect(await get("/ui/vulnerabilities")).toContain(`<li><a href="/ui/vulnerabilities" aria-current="page">Vulnerabilities</a></li>`);
  const search = await browser.get("/ui/vulnerabilities?id=cve-2019-18224");
  expect(search.status).toBe(303);
  expect(search.location).toBe(`/ui/vulnerabilities/${CVE}`);
});

test("/ui/vulnerabilities: following Next page shows every vulnerability once, in the chosen sort, ties included", async () => {
  const SORTS = ["images", "running", "non_compliant", "severity", "cvss", "id"] as const;
  const SEV = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
  type Vuln = { id: string; severity: number; cvss: number | null; images: boolean[] };
  const vuln: fc.Arbitrary<Vuln> = fc.record({
    id: fc.integer({ min: 1, max: 99_999 }).map((n) => `CVE-2026-${String(n).padStart(5, "0")}`),
    severity: fc.integer({ min: 0, max: 2 }),
    cvss: fc.option(fc.constantFrom(5, 7.5, 9.8), { nil: null }),
    images: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()).filter((t) => t.some(Boolean)),
  });
  // Image 0 runs in 2 containers, image 1 in one, image 2 nowhere; image 1 is non-compliant.
  const RUNNING = [2, 1, 0];
  await assertPagination({
    rows: fc.record({
      vulns: fc.uniqueArray(vuln, { maxLength: 120, size: "max", selector: (v) => v.id }),
      sort: fc.constantFrom<string | undefined>(undefined, ...SORTS),
      order: fc.constantFrom<"asc" | "desc" | undefined>(undefined, "asc", "desc"),
      digests: fc.uniqueArray(digestArbitrary, { minLength: 3, maxLength: 3 }),
    }),
    pageSizes: fc.constant(50),
    numRuns: 15,
    async seed({ vulns, digests, sort, order }) {
      await pool().query("DELETE FROM workload_containers");
      await pool().query("DELETE FROM image_scans");
      await pool().query("DELETE FROM policy_exceptions");
      await pool().query("DELETE FROM vulnerabilities");
      for (const [n, digest] of digests.entries()) {
        const { rows } = await pool().query<{ id: string }>(
          `INSERT INTO scan_reports (scanned_at, format, scanner, report_sha256) VALUES (now(), 'trivy', 'Trivy', md5(random()::text)) RETURNING id`,
        );
        await pool().query(
          `INSERT INTO image_scans (image_digest, repository, latest_report_id, scanned_at, is_compliant, status, policy_version)
           VALUES ($1, 'docker.io/library/app', $2, now(), $3, $4, 1)`,
          [digest, rows[0]!.id, n !== 1, n === 1 ? "non_compliant" : "compliant"],
        );
        const mine = vulns.filter((v) => v.images[n]);
        await pool().query(
          `INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, severity) SELECT $1, 'vulnerability', id, 'pkg', sev
           FROM unnest($2::text[], $3::text[]) AS x(id, sev)`,
          [rows[0]!.id, mine.map((v) => v.id), mine.map((v) => SEV[v.severity]!)],
        );
        for (let c = 0; c < RUNNING[n]!; c++) await runContainer(digest, `w${n}-${c}`);
      }
      await pool().query(
        `INSERT INTO vulnerabilities (id, cvss_score) SELECT id, s FROM unnest($1::text[], $2::numeric[]) AS x(id, s)`,
        [vulns.map((v) => v.id), vulns.map((v) => v.cvss)],
      );
      const facts = (v: Vuln) => ({
        images: v.images.filter(Boolean).length,
        running: v.images.reduce((sum, on, n) => sum + (on ? RUNNING[n]! : 0), 0),
        blocked: v.images[1] ? 1 : 0,
        rank: v.severity + 1,
      });
      const field = sort ?? "images";
      const dir = sort === undefined ? -1 : (order ?? (field === "id" ? "asc" : "desc")) === "asc" ? 1 : -1;
      const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
      const nullsLast = (x: number | null, y: number | null) => (x === y ? 0 : x === null ? 1 : y === null ? -1 : cmp(x, y) * dir);
      const tie = (a: Vuln, b: Vuln) => {
        const [fa, fb] = [facts(a), facts(b)];
        return cmp(fb.images, fa.images) || cmp(fb.running, fa.running) || cmp(fa.rank, fb.rank) || cmp(a.id < b.id ? -1 : 1, 0);
      };
      const by: Record<string, (a: Vuln, b: Vuln) => number> = {
        images: (a, b) => cmp(facts(a).images, facts(b).images) * dir || cmp(facts(b).running, facts(a).running) || cmp(facts(a).rank, facts(b).rank) || (a.id < b.id ? -1 : 1),
        running: (a, b) => cmp(facts(a).running, facts(b).running) * dir || tie(a, b),
        non_compliant: (a, b) => cmp(facts(a).blocked, facts(b).blocked) * dir || tie(a, b),
        severity: (a, b) => cmp(facts(a).rank, facts(b).rank) * -dir || nullsLast(a.cvss, b.cvss) || tie(a, b),
        cvss: (a, b) => nullsLast(a.cvss, b.cvss) || tie(a, b),
        id: (a, b) => (a.id < b.id ? -1 : 1) * dir,
      };
      return [...vulns].sort(by[field]!).map((v) => v.id);
    },
    async fetchPage(_size, cursor: string | null, { sort, order }) {
      const query = new URLSearchParams({ ...(sort ? { sort } : {}), ...(order ? { order } : {}) }).toString();
      const text = await get(cursor ?? `/ui/vulnerabilities${query ? `?${query}` : ""}`);
      return { keys: ids(text), next: nextLink(text) };
    },
  });
});
