import { CHANGED_FINGERPRINTS_SQL } from "../../src/db/vulnerability-repository";
import { explainPlan, type PlanNode } from "../support/query-plan";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * The upload's "which vulnerability IDs are new or changed" check (one statement for all of an upload's IDs) reads
 * the narrow vulnerabilities_id_fingerprint_idx, never the table's wide rows: over the primary key alone the planner
 * hashed all 200,000 rows for a few thousand IDs.
 */
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  await database.db.pool.query(`INSERT INTO vulnerabilities (id, title, description, severity, metadata_fingerprint)
    SELECT 'CVE-2024-' || i, 'title ' || i, repeat('a long description of the vulnerability ', 12), 'HIGH', i
    FROM generate_series(0, 199999) AS i`);
  await database.db.pool.query("VACUUM ANALYZE vulnerabilities");
});
afterAll(async () => database.drop());

function plan(count: number): Promise<PlanNode[]> {
  const ids = Array.from({ length: count }, (_, i) => `CVE-2024-${(i * 7919) % 200000}`);
  const fingerprints = ids.map((id) => Number(id.slice("CVE-2024-".length)));
  return explainPlan(database.db.pool, CHANGED_FINGERPRINTS_SQL, [ids, fingerprints]);
}

test.each([6000, 200000])("when an upload names %i IDs of 200,000 stored, then the check reads the fingerprint index only", async (count) => {
  const scans = (await plan(count)).filter((n) => n["Relation Name"] === "vulnerabilities");
  expect(scans.map((n) => [n["Node Type"], n["Index Name"]])).toEqual([["Index Only Scan", "vulnerabilities_id_fingerprint_idx"]]);
});

test("when the check runs, then it names exactly the new IDs and those whose fingerprint changed", async () => {
  const { rows } = await database.db.pool.query<{ id: string }>(CHANGED_FINGERPRINTS_SQL, [
    ["CVE-2024-1", "CVE-2024-2", "CVE-2024-3", "CVE-NEW-1"],
    [1, 99, 3, 5],
  ]);
  expect(rows.map((r) => r.id).sort()).toEqual(["CVE-2024-2", "CVE-NEW-1"]);
});
