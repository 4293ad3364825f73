import { explainPlan, indexesUsed, seqScanned } from "../support/query-plan";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * The lookup and the analysts' common questions use indexes, checked with EXPLAIN over a seeded database large
 * enough (10,000 images, 100,000 findings, ANALYZEd) that the planner prefers an index only when one fits.
 */
let database: TestDatabase;

const explain = (sql: string, params: unknown[]) => explainPlan(database.db.pool, sql, params);

beforeAll(async () => {
  database = await createTestDatabase();
  const q = (sql: string) => database.db.pool.query(sql);
  await q(`INSERT INTO policy_versions (version, rules) VALUES (1, '{}'::jsonb) ON CONFLICT DO NOTHING`);
  await q(`INSERT INTO scan_reports (id, scanned_at, format, scanner, report_sha256, finding_count)
           SELECT md5('report' || i)::uuid, now() - make_interval(mins => i), 'trivy', 'Trivy', md5('sha' || i), 10
           FROM generate_series(1, 10000) AS i`);
  // 10 findings per report over 5,000 vulnerability IDs: each ID is in about 20 reports.
  await q(`INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, installed_version, severity)
           SELECT md5('report' || i)::uuid, 'vulnerability', 'CVE-2024-' || ((i * 37 + j * 101) % 5000), 'pkg-' || j, '1.0',
                  (ARRAY['CRITICAL','HIGH','MEDIUM','LOW'])[1 + (i + j) % 4]
           FROM generate_series(1, 10000) AS i, generate_series(1, 10) AS j`);
  // 100 repositories; 90 % compliant, 8 % non-compliant, 2 % stale.
  await q(`INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, policy_version)
           SELECT 'sha256:' || encode(sha256(('image' || i)::bytea), 'hex'), 'registry.example.com/team-' || (i % 100) || '/app', ARRAY['v' || i],
                  md5('report' || i)::uuid, now(), (i % 50) >= 5,
                  CASE WHEN i % 50 = 0 THEN 'stale' WHEN i % 50 < 5 THEN 'non_compliant' ELSE 'compliant' END, 1
           FROM generate_series(1, 10000) AS i`);
  await q("ANALYZE");
});
afterAll(async () => database?.drop());

test("when Kyverno asks about a digest, then the lookup reads image_scans through its primary key", async () => {
  const plan = await explain("SELECT is_compliant, status, reasons FROM image_scans WHERE image_digest = $1", ["sha256:" + "a".repeat(64)]);
  expect(indexesUsed(plan)).toContain("image_scans_pkey");
  expect(seqScanned(plan)).toEqual([]);
});

test("when an analyst asks which images have CVE-X now (current_findings), then findings and image_scans are read through indexes", async () => {
  const plan = await explain("SELECT DISTINCT image_digest FROM current_findings WHERE vulnerability_id = $1", ["CVE-2024-42"]);
  expect(indexesUsed(plan)).toContain("findings_vulnerability_id_report_id_idx");
  expect(indexesUsed(plan)).toContain("image_scans_latest_report_id_idx");
  expect(seqScanned(plan)).not.toContain("findings");
  expect(seqScanned(plan)).not.toContain("image_scans");
});

test("when the same question is asked as the API's join (GET /v1/vulnerabilities/{id}), then it uses the same indexes", async () => {
  const plan = await explain(
    `SELECT s.image_digest, s.status FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id WHERE f.vulnerability_id = $1`,
    ["CVE-2024-42"],
  );
  expect(indexesUsed(plan)).toContain("findings_vulnerability_id_report_id_idx");
  expect(seqScanned(plan)).toEqual([]);
});

test("when images are listed by repository or by status in digest order, then an index serves the order without a sort", async () => {
  const byRepository = await explain("SELECT image_digest, status FROM image_scans WHERE repository = $1 ORDER BY image_digest LIMIT 51", [
    "registry.example.com/team-7/app",
  ]);
  expect(indexesUsed(byRepository)).toContain("image_scans_repository_digest_idx");
  expect(seqScanned(byRepository)).toEqual([]);
  // No index names status (verdict flips stay HOT updates: test/db/verdict-updates-heap-only): a status page walks the
  // primary key in digest order, filtering as it goes, and stops at its last match; no sort of the whole table.
  const byStatus = await explain("SELECT image_digest, repository FROM image_scans WHERE status = $1 ORDER BY image_digest LIMIT 51", ["non_compliant"]);
  expect(indexesUsed(byStatus)).toContain("image_scans_pkey");
  expect(seqScanned(byStatus)).toEqual([]);
  expect(byStatus.map((n) => n["Node Type"])).not.toContain("Sort");
  // A rare status (2 % stale here) is cheaper for the planner to find by one scan of the table and a top-N sort of its
  // few matches: docs/performance.md says what a page costs then.
});
