/**
 * Every paginated list of the API keeps the pagination property (test/support/pagination-property.ts): for any rows
 * and any page size, following next_cursor from the first page returns each row exactly once, in the documented
 * order. Rows are stored straight into the tables (thousands of uploads per run would only test ingest); the pages
 * are read through HTTP like any client.
 */
import fc from "fast-check";
import { assertPagination, digestArbitrary } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
import { bearer } from "./policy-support";

jest.setTimeout(180_000);

let app: TestApp;
let reader: string;
let admin: string;
const pool = () => app.database.db.pool;

beforeAll(async () => {
  app = await startTestApp();
  reader = await app.token("compliance:read");
  admin = app.adminToken;
});
afterAll(async () => app.close());

const STATUSES = ["compliant", "non_compliant", "stale"] as const;
const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] as const;
const byNumber = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/** A report with a scan row for `digest`, so current_findings shows the report's findings for it. */
async function anImageWithReport(digest: string, repository: string | null = "docker.io/library/nginx"): Promise<string> {
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO scan_reports (scanned_at, format, scanner, report_sha256) VALUES (now(), 'trivy', 'Trivy', md5(random()::text)) RETURNING id`,
  );
  const reportId = rows[0]!.id;
  await pool().query("INSERT INTO scan_report_images (report_id, image_digest, repository) VALUES ($1, $2, $3)", [reportId, digest, repository]);
  await pool().query(
    `INSERT INTO image_scans (image_digest, repository, latest_report_id, scanned_at, is_compliant, status, policy_version)
     VALUES ($1, $2, $3, now(), true, 'compliant', 1)
     ON CONFLICT (image_digest) DO UPDATE SET latest_report_id = excluded.latest_report_id, repository = excluded.repository`,
    [digest, repository, reportId],
  );
  return reportId;
}

describe("GET /v1/images", () => {
  test("when following next_cursor, then every image comes once, by digest, with or without a status filter", async () => {
    await assertPagination({
      rows: fc.record({
        images: fc.uniqueArray(fc.tuple(digestArbitrary, fc.constantFrom(...STATUSES)), { maxLength: 45, size: "max", selector: ([d]) => d }),
        status: fc.constantFrom<string | undefined>(undefined, ...STATUSES),
      }),
      pageSizes: fc.integer({ min: 1, max: 20 }),
      async seed({ images: rows, status }) {
        await pool().query("DELETE FROM image_scans");
        await pool().query(
          `INSERT INTO image_scans (image_digest, is_compliant, status, policy_version)
           SELECT d, s = 'compliant', s, 1 FROM unnest($1::text[], $2::text[]) AS x(d, s)`,
          [rows.map(([d]) => d), rows.map(([, s]) => s)],
        );
        return rows
          .filter(([, s]) => status === undefined || s === status)
          .map(([d]) => d)
          .sort();
      },
      async fetchPage(limit, cursor, { status }) {
        const res = await app.http
          .get("/v1/images")
          .query({ limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) })
          .set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { image_digest: string }) => i.image_digest), next: res.body.next_cursor };
      },
    });
  });
});

describe("GET /v1/images/{digest}/findings", () => {
  test("when following next_cursor, then every finding of the current report comes once, in ID order, with or without a severity filter", async () => {
    const digest = `sha256:${"f".repeat(64)}`;
    const reportId = await anImageWithReport(digest);
    await assertPagination({
      rows: fc.record({
        severities: fc.array(fc.constantFrom(...SEVERITIES), { maxLength: 45, size: "max" }),
        severity: fc.constantFrom<string | undefined>(undefined, "HIGH", "CRITICAL"),
      }),
      pageSizes: fc.integer({ min: 1, max: 20 }),
      async seed({ severities, severity }) {
        await pool().query("DELETE FROM findings WHERE report_id = $1", [reportId]);
        const { rows } = await pool().query<{ id: string; severity: string }>(
          `INSERT INTO findings (report_id, kind, vulnerability_id, severity)
           SELECT $1, 'vulnerability', 'CVE-2026-' || lpad(n::text, 4, '0'), s FROM unnest($2::text[]) WITH ORDINALITY AS x(s, n)
           RETURNING id::text AS id, severity`,
          [reportId, severities],
        );
        return rows
          .filter((r) => severity === undefined || r.severity === severity)
          .map((r) => r.id)
          .sort(byNumber);
      },
      async fetchPage(limit, cursor, { severity }) {
        const res = await app.http
          .get(`/v1/images/${digest}/findings`)
          .query({ limit, ...(severity ? { severity } : {}), ...(cursor ? { cursor } : {}) })
          .set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { id: string }) => i.id), next: res.body.next_cursor };
      },
    });
  });
});

describe("GET /v1/decisions", () => {
  test("when following next_cursor, then every decision comes once, newest first, also past ten, a hundred, a thousand rows", async () => {
    await assertPagination({
      rows: fc.record({
        namespaces: fc.array(fc.constantFrom("prod", "dev"), { maxLength: 45, size: "max" }),
        namespace: fc.constantFrom<string | undefined>(undefined, "prod"),
        // Ids that straddle 10, 100, 1,000 or 10,000, where text order and number order part.
        firstId: fc.tuple(fc.constantFrom(10, 100, 1000, 10_000), fc.nat({ max: 45 })).map(([power, before]) => Math.max(1, power - before)),
      }),
      pageSizes: fc.integer({ min: 1, max: 20 }),
      async seed({ namespaces, namespace, firstId }) {
        await pool().query("DELETE FROM admission_decisions");
        await pool().query("SELECT setval(pg_get_serial_sequence('admission_decisions', 'id'), $1, false)", [firstId]);
        const { rows: stored } = await pool().query<{ id: string; namespace: string }>(
          `INSERT INTO admission_decisions (decided_at, namespace, is_compliant, status)
           SELECT now(), ns, true, 'compliant' FROM unnest($1::text[]) AS x(ns) RETURNING id::text AS id, namespace`,
          [namespaces],
        );
        return stored
          .filter((r) => namespace === undefined || r.namespace === namespace)
          .map((r) => r.id)
          .sort(byNumber)
          .reverse();
      },
      async fetchPage(limit, cursor, { namespace }) {
        const res = await app.http
          .get("/v1/decisions")
          .query({ limit, ...(namespace ? { namespace } : {}), ...(cursor ? { cursor } : {}) })
          .set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { id: string }) => i.id), next: res.body.next_cursor };
      },
    });
  });
});

describe("GET /v1/vulnerabilities/{id}", () => {
  test("when following next_cursor, then every image that has it comes once, by repository (none last), then digest", async () => {
    const reportId = await anImageWithReport(`sha256:${"e".repeat(64)}`);
    await pool().query("INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, severity) VALUES ($1, 'vulnerability', 'CVE-2026-7777', 'openssl', 'HIGH')", [
      reportId,
    ]);
    await pool().query("INSERT INTO vulnerabilities (id, title) VALUES ('CVE-2026-7777', 'a test vulnerability')");
    await assertPagination({
      // Few short repository names (and none): many images share one, so the digest decides within it.
      rows: fc.uniqueArray(
        fc.tuple(digestArbitrary, fc.option(fc.string({ unit: fc.constantFrom("a", "b", "c"), minLength: 1, maxLength: 2 }), { nil: null })),
        { maxLength: 40, size: "max", selector: ([d]) => d },
      ),
      pageSizes: fc.integer({ min: 1, max: 15 }),
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
      async fetchPage(limit, cursor) {
        const res = await app.http
          .get("/v1/vulnerabilities/CVE-2026-7777")
          .query({ limit, ...(cursor ? { cursor } : {}) })
          .set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.images.map((i: { image_digest: string }) => i.image_digest), next: res.body.next_cursor };
      },
    });
  });

  test("when the cursor is not one the API gave, then 400 invalid_cursor; a limit out of range is 400 with its path", async () => {
    const bad = await app.http.get("/v1/vulnerabilities/CVE-2026-7777").query({ cursor: "bm90LWEtY3Vyc29y" }).set(bearer(reader));
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("invalid_cursor");
    const tooMany = await app.http.get("/v1/vulnerabilities/CVE-2026-7777").query({ limit: 1001 }).set(bearer(reader));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors.map((e: { path: string }) => e.path)).toContain("query.limit");
  });
});

describe("unpaginated lists (one page with every row)", () => {
  test("GET /v1/tokens lists every token once, oldest first", async () => {
    await assertPagination({
      rows: fc.array(fc.constantFrom(0, 1), { maxLength: 25, size: "max" }),
      pageSizes: fc.constant(1000),
      numRuns: 15,
      async seed(sameInstant) {
        await pool().query("DELETE FROM api_tokens WHERE name LIKE 'p-%'");
        // Tokens created in the same instant (a batch, a coarse clock) still come in one stable order.
        const { rows } = await pool().query<{ id: string; created_at: Date }>(
          `INSERT INTO api_tokens (name, token_prefix, token_hash, scopes, created_at)
           SELECT 'p-' || n, 'sr_p', md5(random()::text || n), '{compliance:read}', '2026-01-01T00:00:00Z'::timestamptz + make_interval(secs => n * s)
           FROM unnest($1::int[]) WITH ORDINALITY AS x(s, n) RETURNING id::text AS id, created_at`,
          [sameInstant],
        );
        const others = await pool().query<{ id: string; created_at: Date }>("SELECT id::text AS id, created_at FROM api_tokens WHERE name NOT LIKE 'p-%'");
        return [...others.rows, ...rows]
          .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1))
          .map((r) => r.id);
      },
      async fetchPage() {
        const res = await app.http.get("/v1/tokens").set(bearer(admin));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { id: string }) => i.id), next: null };
      },
    });
  });

  test("GET /v1/exceptions?state=all lists every exception once, newest first", async () => {
    await assertPagination({
      rows: fc.array(fc.nat({ max: 3 }), { maxLength: 25, size: "max" }),
      pageSizes: fc.constant(1000),
      numRuns: 15,
      async seed(offsets) {
        await pool().query("DELETE FROM policy_exceptions");
        const { rows } = await pool().query<{ id: string; created_at: Date }>(
          `INSERT INTO policy_exceptions (vulnerability_id, reason, created_by, created_at)
           SELECT 'CVE-2026-0001', 'accepted', 'p', '2026-01-01T00:00:00Z'::timestamptz + make_interval(days => o)
           FROM unnest($1::int[]) AS x(o) RETURNING id::text AS id, created_at`,
          [offsets],
        );
        return rows.sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a.id < b.id ? -1 : 1)).map((r) => r.id);
      },
      async fetchPage() {
        const res = await app.http.get("/v1/exceptions").query({ state: "all" }).set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { id: string }) => i.id), next: null };
      },
    });
  });

  test("GET /v1/policy/versions lists every version once, newest first", async () => {
    await assertPagination({
      rows: fc.integer({ min: 0, max: 20 }).map((n) => Array.from({ length: n }, (_, i) => i + 2)),
      pageSizes: fc.constant(1000),
      numRuns: 10,
      async seed(versions) {
        await pool().query("DELETE FROM policy_versions WHERE version > 1");
        await pool().query(
          `INSERT INTO policy_versions (version, rules, created_by) SELECT v, (SELECT rules FROM policy_versions WHERE version = 1), 'p' FROM unnest($1::int[]) AS x(v)`,
          [versions],
        );
        return [1, ...versions].reverse().map(String);
      },
      async fetchPage() {
        const res = await app.http.get("/v1/policy/versions").set(bearer(reader));
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { version: number }) => String(i.version)), next: null };
      },
    });
  });
});
