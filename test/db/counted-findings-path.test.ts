import fc from "fast-check";
import { selectEvaluationBatch } from "../../src/db/image-scan-repository";
import { countedFindings, type CountedFindings } from "../../src/domain/evaluate-compliance";
import { parseEvaluationInput, type EvaluationFinding } from "../../src/domain/evaluation-input";
import { policyRulesSchema, type PolicyRules } from "../../src/domain/policy";
import { SEVERITIES, type Severity } from "../../src/domain/severity";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { policyRulesArbitrary } from "../support/policy-arbitrary";

/**
 * Re-evaluation reads of each stored evaluation input only the entries of the severities (and the secrets) the policy
 * can count: scan_reports' generated input_<severity> and input_secrets columns. The database must hand over every
 * entry countedFindings names, in the stored order within each severity, and nothing of a severity the policy does
 * not count; a stored value that is not an array must reach the reader as it is, to be refused.
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

/** What the split columns hand over: per severity read (most severe first), then the secrets, each in stored order. */
function expectedRead(counted: CountedFindings, findings: readonly EvaluationFinding[]): EvaluationFinding[] {
  const out: EvaluationFinding[] = [];
  for (const sev of SEVERITIES) {
    if (!counted.vulnerabilitySeverities.includes(sev) && !counted.misconfigurationSeverities.includes(sev)) continue;
    out.push(...findings.filter((f) => f.k !== "s" && f.sev === sev));
  }
  if (counted.secrets) out.push(...findings.filter((f) => f.k === "s"));
  return out;
}

let stored = 0;
async function readBack(input: unknown, rules: PolicyRules): Promise<unknown> {
  stored++;
  const report = `00000000-0000-4000-8000-${stored.toString(16).padStart(12, "0")}`;
  const digest = `sha256:${stored.toString(16).padStart(64, "0")}`;
  await database.db.pool.query(
    `INSERT INTO scan_reports (id, scanned_at, format, scanner, report_sha256, finding_count, evaluation_input)
     VALUES ($1::uuid, now(), 'trivy', 'Trivy', md5($1::text), 0, $2::jsonb)`,
    [report, JSON.stringify(input)],
  );
  await database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons, policy_version)
     VALUES ($1, 'registry.example.com/app', '{}', $2, now(), true, 'compliant', '[]', 1)`,
    [digest, report],
  );
  const { rows } = await selectEvaluationBatch(database.db.pool, { digests: [digest] }, "", 10, countedFindings(rules));
  return rows[0]!.evaluation_input;
}

test("the database hands over, by severity and in stored order, exactly the entries of the severities the policy counts", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(finding, { maxLength: 20 }), policy, async (findings, rules) => {
      const counted = countedFindings(rules);
      const read = (await readBack(findings, rules)) as EvaluationFinding[];
      expect(read).toEqual(expectedRead(counted, findings));
      // Nothing the policy counts is left out.
      for (const f of findings.filter((x) => isCounted(counted, x))) expect(read).toContainEqual(f);
    }),
    { numRuns: 300 },
  );
});

test("a policy that counts nothing reads an empty input", async () => {
  const rules = policyRulesSchema.parse({ max_severity_counts: {}, block_secrets: false, block_misconfiguration_severities: [] });
  expect(await readBack([{ k: "v", id: "CVE-2024-1", sev: "CRITICAL", fix: true, st: "fixed" }], rules)).toEqual([]);
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
