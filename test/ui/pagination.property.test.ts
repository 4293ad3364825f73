/**
 * The dashboard's paged lists keep the pagination property (test/support/pagination-property.ts): for any rows,
 * following the "Next page" links from the first page shows each row exactly once, in the order the page states.
 * The page sizes are the dashboard's own (50 images, 100 findings, 100 images of a vulnerability); the row counts
 * go past two pages. Rows are stored straight into the tables; the pages are read as a signed-in browser does.
 */
import fc from "fast-check";
import { assertPagination, digestArbitrary } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
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

/** The table body of the page's `<table class="table {cls}">`, split into rows. */
function tableRows(page: string, cls: string): string[] {
  const table = new RegExp(`<table class="table${cls ? ` ${cls}` : ""}">([\\s\\S]*?)</table>`).exec(page)?.[1] ?? "";
  return (/<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "").split("<tr").slice(1);
}

/** The pager's "Next page" link, as the browser would follow it. */
const nextLink = (page: string): string | null => {
  const m = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(page);
  return m ? unescape(m[1]!).replace(/#.*$/, "") : null;
};

async function page(path: string): Promise<string> {
  const res = await browser.get(path);
  expect(res.status).toBe(200);
  return res.text;
}

async function anImageWithReport(digest: string): Promise<string> {
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO scan_reports (scanned_at, format, scanner, report_sha256) VALUES (now(), 'trivy', 'Trivy', md5(random()::text)) RETURNING id`,
  );
  const reportId = rows[0]!.id;
  await pool().query(
    `INSERT INTO image_scans (image_digest, repository, latest_report_id, scanned_at, is_compliant, status, policy_version)
     VALUES ($1, 'docker.io/library/nginx', $2, now(), true, 'compliant', 1)`,
    [digest, reportId],
  );
  return reportId;
}

const STATUSES = ["compliant", "non_compliant", "stale", "not_scanned"] as const;
const IMAGE_SORTS = ["status", "critical", "high", "medium", "low", "fixable", "scanned_at", "first_seen_at", "repository"] as const;

test("/ui/images: following Next page shows every image once, in the chosen sort (riskiest first by default), ties included", async () => {
  type Image = {
    digest: string;
    status: (typeof STATUSES)[number];
    critical: number;
    high: number;
    medium: number;
    low: number;
    fixable: number;
    scanned_at: number | null;
    first_seen_at: number;
    repository: string | null;
  };
  // Few distinct values per column: most rows tie on the sorted column and the risk order breaks the tie.
  const small = fc.integer({ min: 0, max: 2 });
  const day = (n: number) => Date.UTC(2026, 0, 1 + n);
  const image: fc.Arbitrary<Image> = fc.record({
    digest: digestArbitrary,
    status: fc.constantFrom(...STATUSES),
    critical: small,
    high: small,
    medium: small,
    low: small,
    fixable: small,
    scanned_at: fc.option(fc.integer({ min: 0, max: 2 }).map(day), { nil: null }),
    first_seen_at: fc.integer({ min: 0, max: 2 }).map(day),
    repository: fc.option(fc.constantFrom("a", "ab", "b"), { nil: null }),
  });
  const RANK: Record<string, number> = { non_compliant: 0, stale: 1, not_scanned: 2, compliant: 3 };
  const bySeverity = (a: Image, b: Image) => b.critical - a.critical || b.high - a.high || b.medium - a.medium || b.low - a.low || (a.digest < b.digest ? -1 : 1);
  const risk = (a: Image, b: Image) => RANK[a.status]! - RANK[b.status]! || bySeverity(a, b);
  const column = (field: string, order: "asc" | "desc") => (a: Image, b: Image) => {
    const [x, y] = [a[field as keyof Image], b[field as keyof Image]];
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * (order === "asc" ? 1 : -1);
  };
  const oracle = (field: string, order: "asc" | "desc") => (a: Image, b: Image) =>
    field === "status" ? (order === "desc" ? risk(a, b) : RANK[b.status]! - RANK[a.status]! || bySeverity(a, b)) : column(field, order)(a, b) || risk(a, b);
  await assertPagination({
    rows: fc.record({
      images: fc.uniqueArray(image, { maxLength: 130, size: "max", selector: (i) => i.digest }),
      status: fc.constantFrom<string | undefined>(undefined, "non_compliant"),
      sort: fc.constantFrom<string | undefined>(undefined, ...IMAGE_SORTS),
      order: fc.constantFrom<"asc" | "desc" | undefined>(undefined, "asc", "desc"),
    }),
    pageSizes: fc.constant(50),
    numRuns: 25,
    async seed({ images, status, sort, order }) {
      await pool().query("DELETE FROM image_scans");
      await pool().query(
        `INSERT INTO image_scans (image_digest, repository, is_compliant, status, policy_version, critical_count, high_count,
           medium_count, low_count, fixable_count, scanned_at, first_seen_at)
         SELECT d, r, s = 'compliant', s, 1, c, h, m, l, f, sa, fs
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[], $9::timestamptz[], $10::timestamptz[])
           AS x(d, r, s, c, h, m, l, f, sa, fs)`,
        [
          images.map((i) => i.digest),
          images.map((i) => i.repository),
          images.map((i) => i.status),
          images.map((i) => i.critical),
          images.map((i) => i.high),
          images.map((i) => i.medium),
          images.map((i) => i.low),
          images.map((i) => i.fixable),
          images.map((i) => (i.scanned_at === null ? null : new Date(i.scanned_at))),
          images.map((i) => new Date(i.first_seen_at)),
        ],
      );
      const field = sort ?? "status";
      const direction = sort === undefined ? "desc" : (order ?? (field === "repository" ? "asc" : "desc"));
      return images
        .filter((i) => status === undefined || i.status === status)
        .sort(oracle(field, direction))
        .map((i) => i.digest);
    },
    async fetchPage(_size, cursor: string | null, { status, sort, order }) {
      const query = new URLSearchParams({ ...(status ? { status } : {}), ...(sort ? { sort } : {}), ...(order ? { order } : {}) }).toString();
      const text = await page(cursor ?? `/ui/images${query ? `?${query}` : ""}`);
      const keys = tableRows(text, "images-table").map((row) => /href="\/ui\/images\/(sha256:[0-9a-f]{64})"/.exec(row)![1]!);
      return { keys, next: nextLink(text) };
    },
  });
});

test("/ui/images/{digest}: following Next page shows every finding once, in the chosen sort, ties included", async () => {
  const digest = `sha256:${"d".repeat(64)}`;
  const reportId = await anImageWithReport(digest);
  const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
  type Row = { severity: string; vulnerability: string; pkg: string | null; kind: string; fixed: boolean };
  const row: fc.Arbitrary<Row> = fc.record({
    severity: fc.constantFrom(...SEVERITIES),
    // Two IDs, two packages: most rows tie on everything the sort names but their ID.
    vulnerability: fc.constantFrom("CVE-2026-0001", "CVE-2026-0002"),
    pkg: fc.constantFrom<string | null>("a", "b", null),
    kind: fc.constantFrom("vulnerability", "secret"),
    fixed: fc.boolean(),
  });
  type Stored = Row & { id: number; marker: string };
  const rank = (r: Stored) => SEVERITIES.indexOf(r.severity);
  const nullsLast = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
  const tie = (a: Stored, b: Stored) => (a.vulnerability < b.vulnerability ? -1 : a.vulnerability > b.vulnerability ? 1 : 0) || nullsLast(a.pkg, b.pkg) || a.id - b.id;
  const ORDER: Record<string, (a: Stored, b: Stored) => number> = {
    severity: (a, b) => rank(a) - rank(b) || tie(a, b),
    id: tie,
    package: (a, b) => nullsLast(a.pkg, b.pkg) || tie(a, b),
    fixed: (a, b) => Number(!a.fixed) - Number(!b.fixed) || rank(a) - rank(b) || tie(a, b),
    kind: (a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || rank(a) - rank(b) || tie(a, b),
  };
  await assertPagination({
    rows: fc.record({
      findings: fc.array(row, { maxLength: 230, size: "max" }),
      sort: fc.constantFrom("severity", "id", "package", "fixed", "kind"),
      severity: fc.constantFrom<string | undefined>(undefined, "HIGH"),
    }),
    pageSizes: fc.constant(100),
    numRuns: 15,
    async seed({ findings, sort, severity }) {
      await pool().query("DELETE FROM findings WHERE report_id = $1", [reportId]);
      // Each row's status is a marker the page shows (in the Kind column), so the test can tell tied rows apart.
      const { rows } = await pool().query<{ id: string; marker: string }>(
        `INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, installed_version, fixed_version, status, severity, target)
         SELECT $1, k, v, p, '1.0', CASE WHEN fx THEN '1.1' END, 'm' || n, s, 'target'
         FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[]) WITH ORDINALITY AS x(k, v, p, fx, s, n)
         ORDER BY n
         RETURNING id::text AS id, status AS marker`,
        [reportId, findings.map((f) => f.kind), findings.map((f) => f.vulnerability), findings.map((f) => f.pkg), findings.map((f) => f.fixed), findings.map((f) => f.severity)],
      );
      const stored: Stored[] = findings.map((f, i) => ({ ...f, id: Number(rows.find((r) => r.marker === `m${i + 1}`)!.id), marker: `m${i + 1}` }));
      return stored
        .filter((f) => severity === undefined || f.severity === severity)
        .sort(ORDER[sort])
        .map((f) => f.marker);
    },
    async fetchPage(_size, cursor: string | null, { sort, severity }) {
      const text = await page(cursor ?? `/ui/images/${digest}?sort=${sort}${severity ? `&severity=${severity}` : ""}`);
      const keys = tableRows(text, "findings-table").map((r) => /<div class="small muted">(m\d+)<\/div>/.exec(r)![1]!);
      return { keys, next: nextLink(text) };
    },
  });
});

test("/ui/vulnerabilities/{id}: following Next page shows every image that has it once, by repository, then digest", async () => {
  const reportId = await anImageWithReport(`sha256:${"c".repeat(64)}`);
  await pool().query("INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, severity) VALUES ($1, 'vulnerability', 'CVE-2026-8888', 'zlib', 'HIGH')", [reportId]);
  await pool().query("INSERT INTO vulnerabilities (id, title) VALUES ('CVE-2026-8888', 'a test vulnerability')");
  await assertPagination({
    rows: fc.uniqueArray(
      fc.tuple(digestArbitrary, fc.option(fc.string({ unit: fc.constantFrom("a", "b"), minLength: 1, maxLength: 2 }), { nil: null })),
      { maxLength: 230, size: "max", selector: ([d]) => d },
    ),
    pageSizes: fc.constant(100),
    numRuns: 12,
    async seed(images) {
      await pool().query("DELETE FROM image_scans");
      await pool().query(
        `INSERT INTO image_scans (image_digest, repository, latest_report_id, is_compliant, status, policy_version)
         SELECT d, r, $3, true, 'compliant', 1 FROM unnest($1::text[], $2::text[]) AS x(d, r)`,
        [images.map(([d]) => d), images.map(([, r]) => r), reportId],
      );
      const key = ([d, r]: [string, string | null]) => `${r === null ? "\uffff" : r}\u0000${d}`;
      return [...images].sort((a, b) => (key(a) < key(b) ? -1 : 1)).map(([d]) => d);
    },
    async fetchPage(_size, cursor: string | null) {
      const text = await page(cursor ?? "/ui/vulnerabilities/CVE-2026-8888");
      const section = text.slice(text.indexOf('id="where-h"'));
      const keys = tableRows(section, "").map((r) => /href="\/ui\/images\/(sha256:[0-9a-f]{64})"/.exec(r)![1]!);
      return { keys, next: nextLink(section) };
    },
  });
});
