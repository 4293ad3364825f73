import fc from "fast-check";
import { selectEvaluationBatch } from "../../src/db/image-scan-repository";
import { countedFindings, evaluateCompliance } from "../../src/domain/evaluate-compliance";
import { parseEvaluationInput, type EvaluationFinding } from "../../src/domain/evaluation-input";
import type { PolicyExceptionRule } from "../../src/domain/exception";
import { policyRulesSchema } from "../../src/domain/policy";
import { SEVERITIES, type Severity } from "../../src/domain/severity";
import { at, DAY_MS, NOW } from "../support/builders";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { policyRulesArbitrary } from "../support/policy-arbitrary";

/**
 * Re-evaluation reads only the entries the policy can count (selectEvaluationBatch reads, of the stored input, the
 * columns of scan_reports that hold it split by severity, for the severities countedFindings names). For any policy
 * and exceptions, every image's verdict from what is read is the verdict from the whole input: the columns read and
 * the evaluator agree on what can count.
 */

const IDS = ["CVE-2024-1", "CVE-2024-2", "CVE-2024-3", "GHSA-abcd-efgh-ijkl", "private-key", "DS002"];
const STATUSES = [null, "fixed", "affected", "not_affected", "FAIL", "PASS"];
const severity = fc.constantFrom<Severity>(...SEVERITIES);
const finding: fc.Arbitrary<EvaluationFinding> = fc.record({
  k: fc.constantFrom("v" as const, "s" as const, "m" as const),
  id: fc.constantFrom(...IDS),
  sev: severity,
  fix: fc.boolean(),
  st: fc.constantFrom(...STATUSES),
});
const policy = policyRulesArbitrary;
const exception: fc.Arbitrary<PolicyExceptionRule> = fc.record({
  id: fc.constant("exc"),
  vulnerabilityId: fc.constantFrom(...IDS),
  repository: fc.constant(null),
  imageDigest: fc.constant(null),
  expiresAt: fc.option(fc.integer({ min: 1, max: 10 }).map((d) => at(NOW.getTime() + d * DAY_MS)), { nil: null }),
});

const IMAGES = 60;
let database: TestDatabase;
let inputs: EvaluationFinding[][];
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;

beforeAll(async () => {
  database = await createTestDatabase();
  inputs = fc.sample(fc.array(finding, { maxLength: 20 }), { numRuns: IMAGES, seed: 7 });
  inputs[0] = [];
  await database.db.pool.query(
    `INSERT INTO scan_reports (id, scanned_at, format, scanner, report_sha256, finding_count, evaluation_input)
     SELECT md5('r' || i)::uuid, $2, 'trivy', 'Trivy', md5('s' || i), jsonb_array_length(($1::jsonb[])[i]), ($1::jsonb[])[i]
     FROM generate_series(1, $3) AS i`,
    [inputs.map((x) => JSON.stringify(x)), at(NOW.getTime() - 20 * DAY_MS), IMAGES],
  );
  await database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons, policy_version)
     SELECT 'sha256:' || lpad(to_hex(i - 1), 64, '0'), 'docker.io/library/app', '{}', md5('r' || i)::uuid, $1, true, 'compliant', '[]', 1
     FROM generate_series(1, $2) AS i`,
    [at(NOW.getTime() - 20 * DAY_MS), IMAGES],
  );
});
afterAll(async () => {
  await database.drop();
});

test("for any policy, the verdict from the findings the SQL filter keeps is the verdict from the whole input", async () => {
  await fc.assert(
    fc.asyncProperty(policy, fc.array(exception, { maxLength: 4 }), async (rules, exceptions) => {
      const { rows } = await selectEvaluationBatch(database.db.pool, { all: true }, "", IMAGES, countedFindings(rules));
      expect(rows).toHaveLength(IMAGES);
      for (const row of rows) {
        const index = parseInt(row.image_digest.slice("sha256:".length), 16);
        const image = { imageDigest: row.image_digest, repository: row.repository, scannedAt: row.scanned_at };
        const filtered = parseEvaluationInput(row.evaluation_input);
        expect(filtered.length).toBeLessThanOrEqual(inputs[index]!.length);
        expect(evaluateCompliance({ ...image, findings: filtered }, rules, exceptions, NOW)).toEqual(
          evaluateCompliance({ ...image, findings: inputs[index]! }, rules, exceptions, NOW),
        );
      }
    }),
    { numRuns: 150 },
  );
});

test("a policy that counts only HIGH vulnerabilities reads only the HIGH entries of an input (its vulnerabilities and misconfigurations)", async () => {
  const rules = policyRulesSchema.parse({ max_severity_counts: { HIGH: 1 }, block_secrets: false });
  const { rows } = await selectEvaluationBatch(database.db.pool, { all: true }, "", IMAGES, countedFindings(rules));
  for (const row of rows) {
    const index = parseInt(row.image_digest.slice("sha256:".length), 16);
    expect(row.evaluation_input).toEqual(inputs[index]!.filter((f) => f.k !== "s" && f.sev === "HIGH"));
  }
});

test("a stored input that is not an array is read as it is, so re-evaluation still refuses it as malformed", async () => {
  await database.db.pool.query(`UPDATE scan_reports SET evaluation_input = '{"k":"v"}' WHERE id = md5('r1')::uuid`);
  const rules = policyRulesSchema.parse({});
  const { rows } = await selectEvaluationBatch(database.db.pool, { digests: [digest(0)] }, "", 10, countedFindings(rules));
  expect(rows[0]!.evaluation_input).toEqual({ k: "v" });
  expect(() => parseEvaluationInput(rows[0]!.evaluation_input)).toThrow(/malformed/);
});
