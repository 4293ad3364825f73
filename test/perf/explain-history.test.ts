import { selectEvaluationBatch } from "../../src/db/image-scan-repository";
import type { Queryable } from "../../src/db/queryable";
import { countedFindings } from "../../src/domain/evaluate-compliance";
import { policyRulesSchema } from "../../src/domain/policy";
import { docsQuery, explainPlan, indexesUsed, planNodes, seqScanned, type PlanNode } from "../support/query-plan";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * With a long history (superseded reports, most of them already pruned), the retention run's search and the history
 * questions of docs/sql.md read through indexes that hold only what they need: EXPLAIN over a seeded, ANALYZEd
 * database of 1,000 current reports and 49,000 older ones (10 findings each unless pruned: 400,000 findings, and a
 * secret in every tenth report). The questions about current findings read the current reports' findings through
 * indexes that hold only the rows they ask about; those tests run the query as docs/sql.md writes it.
 */
let database: TestDatabase;

const explain = (sql: string, params: unknown[] = []) => explainPlan(database.db.pool, sql, params);

beforeAll(async () => {
  database = await createTestDatabase();
  const q = (sql: string) => database.db.pool.query(sql);
  await q(`INSERT INTO policy_versions (version, rules) VALUES (1, '{}'::jsonb) ON CONFLICT DO NOTHING`);
  // Reports 1–1,000 are current (1–200 received this week, the others 100–400 days ago, as an image not rebuilt since);
  // 1,001–50,000 superseded, received 100–400 days ago, 10,000 of them pruned already.
  await q(`INSERT INTO scan_reports (id, received_at, scanned_at, format, scanner, report_sha256, finding_count, pruned_at)
           SELECT md5('report' || i)::uuid,
                  CASE WHEN i <= 200 THEN now() - make_interval(mins => i) ELSE now() - make_interval(days => 100 + (i % 300)) END,
                  now() - make_interval(days => i % 400), 'trivy', 'Trivy', md5('sha' || i), 10,
                  CASE WHEN i > 40000 THEN now() - interval '1 day' END
           FROM generate_series(1, 50000) AS i`);
  await q(`INSERT INTO findings (report_id, kind, vulnerability_id, pkg_name, installed_version, fixed_version, severity)
           SELECT md5('report' || i)::uuid, 'vulnerability', 'CVE-2024-' || ((i * 37 + j * 101) % 5000), 'pkg-' || j, '1.0',
                  CASE WHEN j % 3 = 0 THEN '1.1' END, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW'])[1 + (i + j) % 4]
           FROM generate_series(1, 40000) AS i, generate_series(1, 10) AS j`);
  await q(`INSERT INTO findings (report_id, kind, vulnerability_id, target, severity)
           SELECT md5('report' || i)::uuid, 'secret', 'aws-access-key-id', '/app/config-' || (i % 7) || '.env', 'CRITICAL'
           FROM generate_series(10, 40000, 10) AS i`);
  // Report i describes image 1 + (i - 1) % 1000: image i's current report is report i, and each image has 50 reports.
  await q(`INSERT INTO scan_report_images (report_id, image_digest, repository, received_at)
           SELECT md5('report' || i)::uuid, 'sha256:' || encode(sha256(('image' || (1 + (i - 1) % 1000))::bytea), 'hex'),
                  'registry.example.com/team-' || ((1 + (i - 1) % 1000) % 100) || '/app',
                  CASE WHEN i <= 200 THEN now() - make_interval(mins => i) ELSE now() - make_interval(days => 100 + (i % 300)) END
           FROM generate_series(1, 50000) AS i`);
  await q(`INSERT INTO image_scans (image_digest, repository, latest_report_id, scanned_at, is_compliant, status, policy_version)
           SELECT 'sha256:' || encode(sha256(('image' || i)::bytea), 'hex'), 'registry.example.com/team-' || (i % 100) || '/app',
                  md5('report' || i)::uuid, now(), true, 'compliant', 1
           FROM generate_series(1, 1000) AS i`);
  await q("ANALYZE");
});
afterAll(async () => database?.drop());

test("when the retention run looks for reports to prune, then it reads the partial index of unpruned reports, not the history", async () => {
  const plan = await explain(
    `SELECT r.id FROM scan_reports r
     WHERE r.pruned_at IS NULL AND r.received_at < $1
       AND NOT EXISTS (SELECT 1 FROM image_scans s WHERE s.latest_report_id = r.id)
     ORDER BY r.received_at LIMIT 50 FOR UPDATE OF r SKIP LOCKED`,
    [new Date(Date.now() - 30 * 86_400_000)],
  );
  expect(indexesUsed(plan)).toContain("scan_reports_unpruned_received_idx");
  expect(seqScanned(plan)).not.toContain("scan_reports");
});

test("when the docs' weekly findings question runs over its 12-week window, then only the window's reports are read (received_at index)", async () => {
  const plan = await explain(
    `SELECT date_trunc('week', r.received_at)::date AS week, f.severity, count(*) AS findings, count(DISTINCT r.id) AS reports
     FROM scan_reports r JOIN findings f ON f.report_id = r.id
     WHERE f.kind = 'vulnerability' AND f.status IS DISTINCT FROM 'not_affected' AND r.deleted_at IS NULL
       AND r.received_at > now() - interval '12 weeks'
     GROUP BY 1, 2`,
  );
  expect(indexesUsed(plan)).toContain("scan_reports_received_at_idx");
  // The window's reports come from the index; at this size the planner may still hash-join findings (one pass over
  // 400,000 rows beats 200 index probes in its model), at the bench's 20 million it probes findings_report_id_idx.
  expect(seqScanned(plan)).not.toContain("scan_reports");
});

test("when the docs' reports-per-source question runs over its 90-day window, then it reads the window by received_at", async () => {
  const plan = await explain(
    `SELECT coalesce(source, '(not given)') AS source, scanner, scanner_version, format, count(*) AS reports, max(received_at) AS last_received
     FROM scan_reports WHERE received_at > now() - interval '90 days' GROUP BY 1, 2, 3, 4`,
  );
  expect(indexesUsed(plan)).toContain("scan_reports_received_at_idx");
  expect(seqScanned(plan)).toEqual([]);
});

test("when the docs' secrets question runs, then it reads only secret findings of the current reports (partial index)", async () => {
  const plan = await explain(docsQuery("secrets found per repository"));
  expect(indexesUsed(plan)).toContain("findings_secret_report_id_idx");
  expect(seqScanned(plan)).not.toContain("findings");
});

test("when the docs' package question runs, then it reads only that package's findings of the current reports (report_id, pkg_name)", async () => {
  const plan = await explain(docsQuery("images carrying a package, by version"), ["pkg-3"]);
  expect(indexesUsed(plan)).toContain("findings_report_id_pkg_name_idx");
  expect(seqScanned(plan)).not.toContain("findings");
});

test("when the docs' report history question runs, then it reads the image's 20 newest receipts in index order, not its whole history", async () => {
  const digest = (await database.db.pool.query<{ d: string }>(`SELECT 'sha256:' || encode(sha256('image1'::bytea), 'hex') AS d`)).rows[0]!.d;
  const plan = await explain(docsQuery("report history of an image"), [digest]);
  expect(indexesUsed(plan)).toContain("scan_report_images_digest_received_idx");
  expect(seqScanned(plan)).toEqual([]);
  // The newest 20 come from the index in its order: no sort of the image's reports before the LIMIT.
  const limit = plan.find((n) => n["Node Type"] === "Limit")!;
  expect(planNodes(limit).map((n) => n["Node Type"])).not.toContain("Sort");
});

test("when the docs' fixable criticals question runs, then it reads only fixable critical findings of the current reports (partial index)", async () => {
  const plan = await explain(docsQuery("fixable critical vulnerabilities per repository"));
  expect(indexesUsed(plan)).toContain("findings_fixable_critical_report_id_idx");
  expect(seqScanned(plan)).not.toContain("findings");
});

/** The plan of the statement `read` sends: it is explained instead of run. */
async function planOfRead(read: (q: Queryable) => Promise<unknown>): Promise<PlanNode[]> {
  let plan: PlanNode[] | null = null;
  const explaining = {
    query: async (sql: string, params?: unknown[]) => {
      plan = await explain(sql, params ?? []);
      return { rows: [], rowCount: 0 };
    },
  } as unknown as Queryable;
  await read(explaining);
  if (!plan) throw new Error("nothing was read");
  return plan;
}

test.each([
  ["every image", { all: true as const }],
  ["expired verdicts", { expiredAt: new Date() }],
])("when re-evaluating %s, then each image's current report is read by primary key, never the history's reports", async (_name, scope) => {
  const counted = countedFindings(policyRulesSchema.parse({ max_severity_counts: { CRITICAL: 0, HIGH: 5 } }));
  const plan = await planOfRead((q) => selectEvaluationBatch(q, scope, "", 5000, counted));
  expect(seqScanned(plan)).not.toContain("scan_reports");
  expect(indexesUsed(plan)).toContain("scan_reports_pkey");
});
