import fc from "fast-check";
import { countedFindingsPath, selectEvaluationBatch } from "../../src/db/image-scan-repository";
import { countedFindings, type CountedFindings } from "../../src/domain/evaluate-compliance";
import { parseEvaluationInput, type EvaluationFinding } from "../../src/domain/evaluation-input";
import { policyRulesSchema, type PolicyRules } from "../../src/domain/policy";
import { SEVERITIES, type Severity } from "../../src/domain/severity";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { policyRulesArbitrary } from "../support/policy-arbitrary";

/**
 * Re-evaluation reads of each stored evaluation input only the findings the policy can count (the jsonpath of
 * countedFindingsPath): the database must keep exactly the findings countedFindings names, and a stored value that
 * is not an array must reach the reader as it is, to be refused.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

const severity = fc.constantFrom<Severity>(...SEVERITIES);
const finding: fc.Arbitrary<EvaluationFinding> = fc.record({
  k: fc.constantFrom("v" as const, "s" as const, "m" as const),
  id: fc.constantFrom("CVE-2024-1", "CVE-2024-2", "private-key", "DS002"),
  sev: severity,
  fix: fc.boolean(),
  st: fc.constantFrom(null, "fixed", "affected", "not_affected", "FAIL", "PASS"),
});
const policy = policyRulesArbitrary;

/** countedFindings' selection, as its comment states it, applied to a whole input. */
function isCounted(counted: CountedFindings, f: EvaluationFinding): boolean {
  if (f.k === "v") return counted.vulnerabilitySeverities.includes(f.sev) && (!counted.fixableOnly || f.fix);
  if (f.k === "s") return counted.secrets;
  return counted.misconfigurationSeverities.includes(f.sev);
}

async function narrowed(input: unknown, rules: PolicyRules): Promise<unknown> {
  const { rows } = await database.db.pool.query<{ kept: unknown }>("SELECT jsonb_path_query_array($1::jsonb, $2::jsonpath) AS kept", [
    JSON.stringify(input),
    countedFindingsPath(countedFindings(rules)) ?? "$ ? (1 == 0)",
  ]);
  return rows[0]!.kept;
}

test("the database keeps, in order, exactly the well-formed findings countedFindings names", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(finding, { maxLength: 20 }), policy, async (findings, rules) => {
      expect(await narrowed(findings, rules)).toEqual(findings.filter((f) => isCounted(countedFindings(rules), f)));
    }),
    { numRuns: 300 },
  );
});

describe("when a stored input is malformed", () => {
  const onlyCritical = policyRulesSchema.parse({ max_severity_counts: { CRITICAL: 0 }, ignore_unfixed: true, block_secrets: false });
  test("then an input that is not an array is read as it is, and refused by parseEvaluationInput", async () => {
    const report = "00000000-0000-4000-8000-00000000c0de";
    const digest = `sha256:${"c".repeat(64)}`;
    await database.db.pool.query(
      `INSERT INTO scan_reports (id, scanned_at, format, scanner, report_sha256, finding_count, evaluation_input)
       VALUES ($1, now(), 'trivy', 'Trivy', md5('countable-findings'), 1, '{"k": "v"}')`,
      [report],
    );
    await database.db.pool.query(
      `INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons, policy_version)
       VALUES ($1, 'registry.example.com/app', '{}', $2, now(), true, 'compliant', '[]', 1)`,
      [digest, report],
    );
    const { rows } = await selectEvaluationBatch(database.db.pool, { digests: [digest] }, "", 10, countedFindings(onlyCritical));
    expect(rows.map((r) => r.evaluation_input)).toEqual([{ k: "v" }]);
    expect(() => parseEvaluationInput(rows[0]!.evaluation_input)).toThrow(/malformed/);
  });
});
