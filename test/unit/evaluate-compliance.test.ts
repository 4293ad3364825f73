import { evaluateCompliance, summaryReason, type ImageUnderEvaluation } from "../../src/domain/evaluate-compliance";
import { evaluationInputSchema, parseEvaluationInput, toEvaluationInput } from "../../src/domain/evaluation-input";
import type { PolicyExceptionRule } from "../../src/domain/exception";
import type { PolicyRules } from "../../src/domain/policy";
import { summarizeFindings } from "../../src/domain/summary";
import type { ReasonCode, Verdict } from "../../src/domain/verdict";
import { aFinding, anException, anImage, aPolicy, at, DAY_MS, daysAgo, DIGEST_B, NOW } from "../support/builders";

interface Case {
  name: string;
  image: ImageUnderEvaluation;
  policy?: PolicyRules;
  exceptions?: PolicyExceptionRule[];
  now?: Date;
  compliant: boolean;
  status: Verdict["status"];
  codes: ReasonCode[];
  validUntil?: Date | null;
}

const evaluate = (c: Pick<Case, "image" | "policy" | "exceptions" | "now">): Verdict =>
  evaluateCompliance(c.image, c.policy ?? aPolicy(), c.exceptions ?? [], c.now ?? NOW);

const cve = "CVE-2026-1000";
const critical = () => anImage().withFinding({ id: cve, sev: "CRITICAL" });

function check(c: Case): void {
  const v = evaluate(c);
  expect({ compliant: v.isCompliant, status: v.status, codes: v.reasons.map((r) => r.code) }).toEqual({
    compliant: c.compliant,
    status: c.status,
    codes: c.codes,
  });
  if (c.validUntil !== undefined) expect(v.validUntil).toEqual(c.validUntil);
}

describe("no report", () => {
  test.each<Case>([
    { name: "denied by default", image: anImage().unscanned().build(), compliant: false, status: "not_scanned", codes: ["not_scanned"], validUntil: null },
    { name: "allowed when the policy allows it", image: anImage().unscanned().build(), policy: aPolicy({ unscanned: "allow" }), compliant: true, status: "not_scanned", codes: ["unscanned_allowed"] },
    {
      name: "ignores findings, age and exceptions",
      image: anImage().unscanned().withFinding({ sev: "CRITICAL" }).build(),
      policy: aPolicy({ max_scan_age_days: 1 }),
      exceptions: [anException(cve, { expiresAt: at(DAY_MS) })],
      compliant: false, status: "not_scanned", codes: ["not_scanned"], validUntil: null,
    },
  ])("$name", check);
});

describe("max_severity_counts", () => {
  test.each<Case>([
    { name: "no findings is compliant", image: anImage().build(), compliant: true, status: "compliant", codes: [], validUntil: null },
    { name: "one CRITICAL fails the default policy", image: critical().build(), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "HIGH has no default limit", image: anImage().withFindings(50, { sev: "HIGH" }).build(), compliant: true, status: "compliant", codes: [] },
    { name: "at the limit is compliant", image: anImage().withFindings(2, { sev: "HIGH" }).build(), policy: aPolicy({ max_severity_counts: { HIGH: 2 } }), compliant: true, status: "compliant", codes: [] },
    { name: "over the limit is not", image: anImage().withFindings(3, { sev: "HIGH" }).build(), policy: aPolicy({ max_severity_counts: { HIGH: 2 } }), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    {
      name: "limits are per severity, not cumulative",
      image: anImage().withFinding({ sev: "CRITICAL" }).withFinding({ sev: "HIGH" }).build(),
      policy: aPolicy({ max_severity_counts: { CRITICAL: 1, HIGH: 1 } }),
      compliant: true, status: "compliant", codes: [],
    },
    {
      name: "a replaced default: {HIGH: 0} alone no longer limits CRITICAL",
      image: critical().build(), policy: aPolicy({ max_severity_counts: { HIGH: 0 } }),
      compliant: true, status: "compliant", codes: [],
    },
    { name: "UNKNOWN can be limited", image: anImage().withFinding({ sev: "UNKNOWN" }).build(), policy: aPolicy({ max_severity_counts: { UNKNOWN: 0 } }), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    {
      name: "each severity over its limit is a reason, most severe first",
      image: anImage().withFinding({ sev: "LOW" }).withFinding({ sev: "CRITICAL" }).withFinding({ sev: "MEDIUM" }).build(),
      policy: aPolicy({ max_severity_counts: { LOW: 0, CRITICAL: 0, MEDIUM: 0 } }),
      compliant: false, status: "non_compliant", codes: ["severity_threshold", "severity_threshold", "severity_threshold"],
    },
    { name: "secrets are not vulnerabilities", image: anImage().withSecret("aws-access-key-id", { sev: "CRITICAL" }).build(), policy: aPolicy({ block_secrets: false }), compliant: true, status: "compliant", codes: [] },
    { name: "misconfigurations are not vulnerabilities", image: anImage().withMisconfiguration("DS002", { sev: "CRITICAL" }).build(), compliant: true, status: "compliant", codes: [] },
  ])("$name", check);

  test("the reason gives severity, count per finding, limit, the first five distinct IDs in order, and the total", () => {
    const image = anImage();
    for (const id of ["CVE-2024-9", "CVE-2024-10", "CVE-2023-5", "CVE-2024-2", "CVE-2024-1", "CVE-2024-3", "CVE-2024-4"]) image.withFinding({ id, sev: "CRITICAL" });
    image.withFinding({ id: "CVE-2024-1", sev: "CRITICAL" }); // the same CVE in a second package counts again
    const v = evaluate({ image: image.build() });
    expect(v.reasons).toEqual([
      {
        code: "severity_threshold",
        severity: "CRITICAL",
        count: 8,
        limit: 0,
        ids: ["CVE-2023-5", "CVE-2024-1", "CVE-2024-10", "CVE-2024-2", "CVE-2024-3"],
        total: 7,
        message: "8 CRITICAL vulnerabilities (limit 0): CVE-2023-5, CVE-2024-1, CVE-2024-10, CVE-2024-2, CVE-2024-3 and 2 more",
      },
    ]);
    expect(summaryReason(v)).toBe(v.reasons[0]?.message);
  });

  test("singular message", () => {
    expect(evaluate({ image: critical().build() }).reasons[0]?.message).toBe(`1 CRITICAL vulnerability (limit 0): ${cve}`);
  });
});

describe("ignore_unfixed", () => {
  const unfixed = () => anImage().withFinding({ id: cve, sev: "CRITICAL", fix: false });
  test.each<Case>([
    { name: "an unfixed CRITICAL counts by default", image: unfixed().build(), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "an unfixed CRITICAL does not count when ignored", image: unfixed().build(), policy: aPolicy({ ignore_unfixed: true }), compliant: true, status: "compliant", codes: [] },
    { name: "will_not_fix (CentOS 7) is unfixed", image: anImage().withFinding({ sev: "CRITICAL", fix: false, st: "will_not_fix" }).build(), policy: aPolicy({ ignore_unfixed: true }), compliant: true, status: "compliant", codes: [] },
    { name: "a fixed CRITICAL still counts", image: critical().build(), policy: aPolicy({ ignore_unfixed: true }), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    {
      name: "only the fixed ones are counted against the limit",
      image: anImage().withFindings(3, { sev: "HIGH", fix: false }).withFindings(2, { sev: "HIGH" }).build(),
      policy: aPolicy({ ignore_unfixed: true, max_severity_counts: { HIGH: 2 } }),
      compliant: true, status: "compliant", codes: [],
    },
    { name: "does not exempt secrets", image: anImage().withSecret().build(), policy: aPolicy({ ignore_unfixed: true }), compliant: false, status: "non_compliant", codes: ["secret_found"] },
  ])("$name", check);
});

describe("not_affected", () => {
  test.each<Case>([
    { name: "a not_affected CRITICAL never counts", image: anImage().withFinding({ sev: "CRITICAL", st: "not_affected" }).build(), compliant: true, status: "compliant", codes: [] },
    { name: "whatever its casing", image: anImage().withFinding({ sev: "CRITICAL", st: "NOT_AFFECTED" }).build(), compliant: true, status: "compliant", codes: [] },
    { name: "other statuses count", image: anImage().withFinding({ sev: "CRITICAL", st: "under_investigation", fix: false }).build(), compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
  ])("$name", check);
});

describe("block_secrets", () => {
  test.each<Case>([
    { name: "a secret blocks by default", image: anImage().withSecret().build(), compliant: false, status: "non_compliant", codes: ["secret_found"] },
    { name: "whatever its severity", image: anImage().withSecret("generic", { sev: "LOW" }).build(), compliant: false, status: "non_compliant", codes: ["secret_found"] },
    { name: "not when the rule is off", image: anImage().withSecret().build(), policy: aPolicy({ block_secrets: false }), compliant: true, status: "compliant", codes: [] },
  ])("$name", check);

  test("the reason lists the rule IDs, most severe first", () => {
    const v = evaluate({ image: anImage().withSecret("jwt-token", { sev: "MEDIUM" }).withSecret("private-key", { sev: "HIGH" }).withSecret("jwt-token", { sev: "MEDIUM" }).build() });
    expect(v.reasons).toEqual([
      { code: "secret_found", message: "3 secrets found: private-key, jwt-token", count: 3, limit: 0, ids: ["private-key", "jwt-token"], total: 2 },
    ]);
  });
});

describe("block_misconfiguration_severities", () => {
  const blockHigh = aPolicy({ block_misconfiguration_severities: ["CRITICAL", "HIGH"] });
  test.each<Case>([
    { name: "nothing blocks by default", image: anImage().withMisconfiguration("DS002", { sev: "CRITICAL" }).build(), compliant: true, status: "compliant", codes: [] },
    { name: "a FAIL of a blocked severity blocks", image: anImage().withMisconfiguration("DS002", { sev: "HIGH" }).build(), policy: blockHigh, compliant: false, status: "non_compliant", codes: ["misconfiguration"] },
    { name: "a FAIL of another severity does not", image: anImage().withMisconfiguration("DS026", { sev: "LOW" }).build(), policy: blockHigh, compliant: true, status: "compliant", codes: [] },
    { name: "PASS never counts", image: anImage().withMisconfiguration("DS002", { st: "PASS" }).build(), policy: blockHigh, compliant: true, status: "compliant", codes: [] },
    { name: "EXCEPTION (Trivy's own) never counts", image: anImage().withMisconfiguration("DS002", { st: "EXCEPTION" }).build(), policy: blockHigh, compliant: true, status: "compliant", codes: [] },
    { name: "a result without status counts as FAIL", image: anImage().withMisconfiguration("DS002", { st: null }).build(), policy: blockHigh, compliant: false, status: "non_compliant", codes: ["misconfiguration"] },
    { name: "lower-case fail counts", image: anImage().withMisconfiguration("DS002", { st: "fail" }).build(), policy: blockHigh, compliant: false, status: "non_compliant", codes: ["misconfiguration"] },
    {
      name: "one reason per blocked severity, most severe first",
      image: anImage().withMisconfiguration("DS002", { sev: "HIGH" }).withMisconfiguration("DS001", { sev: "CRITICAL" }).build(),
      policy: blockHigh, compliant: false, status: "non_compliant", codes: ["misconfiguration", "misconfiguration"],
    },
  ])("$name", check);

  test("reason", () => {
    const v = evaluate({ image: anImage().withMisconfiguration("DS002", { sev: "HIGH" }).build(), policy: blockHigh });
    expect(v.reasons).toEqual([{ code: "misconfiguration", message: "1 HIGH misconfiguration: DS002", severity: "HIGH", count: 1, limit: 0, ids: ["DS002"], total: 1 }]);
  });
});

describe("max_scan_age_days", () => {
  const thirty = aPolicy({ max_scan_age_days: 30 });
  test.each<Case>([
    { name: "no limit by default", image: anImage().scannedAt(daysAgo(3000)).build(), compliant: true, status: "compliant", codes: [], validUntil: null },
    { name: "a fresh scan holds until it turns stale", image: anImage().scannedAt(daysAgo(10)).build(), policy: thirty, compliant: true, status: "compliant", codes: [], validUntil: at(20 * DAY_MS) },
    { name: "one millisecond before the limit it is fresh", image: anImage().scannedAt(at(1 - 30 * DAY_MS)).build(), policy: thirty, compliant: true, status: "compliant", codes: [], validUntil: at(1) },
    { name: "exactly at the limit it is stale", image: anImage().scannedAt(daysAgo(30)).build(), policy: thirty, compliant: false, status: "stale", codes: ["stale_scan"], validUntil: null },
    { name: "past the limit it is stale", image: anImage().scannedAt(daysAgo(31)).build(), policy: thirty, compliant: false, status: "stale", codes: ["stale_scan"] },
    {
      name: "stale wins the status, every reason is listed",
      image: critical().withSecret().scannedAt(daysAgo(31)).build(), policy: thirty,
      compliant: false, status: "stale", codes: ["stale_scan", "severity_threshold", "secret_found"],
    },
    { name: "a scan dated in the future (clock skew) is fresh", image: anImage().scannedAt(at(DAY_MS)).build(), policy: aPolicy({ max_scan_age_days: 1 }), compliant: true, status: "compliant", codes: [], validUntil: at(2 * DAY_MS) },
  ])("$name", check);

  test("reason", () => {
    const scannedAt = daysAgo(31);
    const v = evaluate({ image: anImage().scannedAt(scannedAt).build(), policy: thirty });
    expect(v.reasons).toEqual([
      { code: "stale_scan", message: `scan from ${scannedAt.toISOString()} has reached the maximum age of 30 days`, scanned_at: scannedAt.toISOString(), max_age_days: 30 },
    ]);
    expect(summaryReason(v)).toBe(v.reasons[0]?.message);
  });
});

describe("exceptions", () => {
  const nginx = "docker.io/library/nginx";
  const tomorrow = at(DAY_MS);
  test.each<Case>([
    { name: "everywhere, permanent", image: critical().build(), exceptions: [anException(cve)], compliant: true, status: "compliant", codes: [], validUntil: null },
    { name: "everywhere, until tomorrow", image: critical().build(), exceptions: [anException(cve, { expiresAt: tomorrow })], compliant: true, status: "compliant", codes: [], validUntil: tomorrow },
    { name: "another vulnerability ID does nothing", image: critical().build(), exceptions: [anException("CVE-2026-9999")], compliant: false, status: "non_compliant", codes: ["severity_threshold"], validUntil: null },
    { name: "IDs are compared exactly, as in the current_findings view", image: critical().build(), exceptions: [anException(cve.toLowerCase())], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "digest scope, this image", image: critical().build(), exceptions: [anException(cve, { imageDigest: critical().build().imageDigest })], compliant: true, status: "compliant", codes: [] },
    { name: "digest scope, another image", image: critical().build(), exceptions: [anException(cve, { imageDigest: DIGEST_B })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "glob scope, matching", image: critical().inRepository(nginx).build(), exceptions: [anException(cve, { repository: "docker.io/library/*" })], compliant: true, status: "compliant", codes: [] },
    { name: "glob scope, ** across segments", image: critical().inRepository("ghcr.io/acme/team/app").build(), exceptions: [anException(cve, { repository: "ghcr.io/acme/**" })], compliant: true, status: "compliant", codes: [] },
    { name: "glob scope, * stays in its segment", image: critical().inRepository("ghcr.io/acme/team/app").build(), exceptions: [anException(cve, { repository: "ghcr.io/acme/*" })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "glob scope, not matching", image: critical().inRepository(nginx).build(), exceptions: [anException(cve, { repository: "docker.io/library/redis" })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "glob scope, image without repository", image: critical().inRepository(null).build(), exceptions: [anException(cve, { repository: "**" })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "digest and glob, both match", image: critical().build(), exceptions: [anException(cve, { imageDigest: critical().build().imageDigest, repository: "docker.io/**" })], compliant: true, status: "compliant", codes: [] },
    { name: "digest and glob, only the digest matches", image: critical().build(), exceptions: [anException(cve, { imageDigest: critical().build().imageDigest, repository: "quay.io/**" })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "digest and glob, only the glob matches", image: critical().build(), exceptions: [anException(cve, { imageDigest: DIGEST_B, repository: "docker.io/**" })], compliant: false, status: "non_compliant", codes: ["severity_threshold"] },
    { name: "expiring exactly now is no longer in force", image: critical().build(), exceptions: [anException(cve, { expiresAt: NOW })], compliant: false, status: "non_compliant", codes: ["severity_threshold"], validUntil: null },
    { name: "expiring a millisecond from now is in force", image: critical().build(), exceptions: [anException(cve, { expiresAt: at(1) })], compliant: true, status: "compliant", codes: [], validUntil: at(1) },
    { name: "expired yesterday", image: critical().build(), exceptions: [anException(cve, { expiresAt: at(-DAY_MS) })], compliant: false, status: "non_compliant", codes: ["severity_threshold"], validUntil: null },
    { name: "covers every package with that CVE", image: critical().withFinding({ id: cve, sev: "CRITICAL" }).build(), exceptions: [anException(cve)], compliant: true, status: "compliant", codes: [] },
    {
      name: "one of two CVEs excepted: still non-compliant, and may change when it expires",
      image: critical().withFinding({ id: "CVE-2026-2000", sev: "CRITICAL" }).build(), exceptions: [anException(cve, { expiresAt: tomorrow })],
      compliant: false, status: "non_compliant", codes: ["severity_threshold"], validUntil: tomorrow,
    },
    { name: "a secret rule ID", image: anImage().withSecret("private-key").build(), exceptions: [anException("private-key")], compliant: true, status: "compliant", codes: [] },
    {
      name: "a misconfiguration check ID",
      image: anImage().withMisconfiguration("DS002").build(), policy: aPolicy({ block_misconfiguration_severities: ["HIGH"] }), exceptions: [anException("DS002", { expiresAt: tomorrow })],
      compliant: true, status: "compliant", codes: [], validUntil: tomorrow,
    },
    {
      name: "an exception on a finding no rule counts does not bound validUntil",
      image: anImage().withFinding({ id: cve, sev: "LOW" }).build(), exceptions: [anException(cve, { expiresAt: tomorrow })],
      compliant: true, status: "compliant", codes: [], validUntil: null,
    },
    {
      name: "an exception on an unfixed finding under ignore_unfixed does not bound validUntil",
      image: anImage().withFinding({ id: cve, sev: "CRITICAL", fix: false }).build(), policy: aPolicy({ ignore_unfixed: true }), exceptions: [anException(cve, { expiresAt: tomorrow })],
      compliant: true, status: "compliant", codes: [], validUntil: null,
    },
    {
      name: "an exception on a not_affected finding does not bound validUntil",
      image: anImage().withFinding({ id: cve, sev: "CRITICAL", st: "not_affected" }).build(), exceptions: [anException(cve, { expiresAt: tomorrow })],
      compliant: true, status: "compliant", codes: [], validUntil: null,
    },
    {
      name: "a permanent exception outlives an expiring one for the same CVE",
      image: critical().build(), exceptions: [anException(cve, { expiresAt: tomorrow }), anException(cve, { imageDigest: critical().build().imageDigest })],
      compliant: true, status: "compliant", codes: [], validUntil: null,
    },
    {
      name: "two expiring exceptions for the same CVE: the later one counts",
      image: critical().build(), exceptions: [anException(cve, { expiresAt: tomorrow }), anException(cve, { expiresAt: at(2 * DAY_MS), repository: "docker.io/**" })],
      compliant: true, status: "compliant", codes: [], validUntil: at(2 * DAY_MS),
    },
    {
      name: "validUntil is the earliest change: exception expiry before staleness",
      image: critical().withFinding({ id: "CVE-2026-3000", sev: "CRITICAL" }).scannedAt(daysAgo(1)).build(), policy: aPolicy({ max_scan_age_days: 7 }),
      exceptions: [anException(cve, { expiresAt: at(3 * DAY_MS) }), anException("CVE-2026-3000", { expiresAt: tomorrow })],
      compliant: true, status: "compliant", codes: [], validUntil: tomorrow,
    },
    {
      name: "validUntil is the earliest change: staleness before exception expiry",
      image: critical().scannedAt(daysAgo(6)).build(), policy: aPolicy({ max_scan_age_days: 7 }), exceptions: [anException(cve, { expiresAt: at(3 * DAY_MS) })],
      compliant: true, status: "compliant", codes: [], validUntil: tomorrow,
    },
    {
      name: "a stale image still reports when an exception will expire (its reasons will change)",
      image: critical().scannedAt(daysAgo(8)).build(), policy: aPolicy({ max_scan_age_days: 7 }), exceptions: [anException(cve, { expiresAt: tomorrow })],
      compliant: false, status: "stale", codes: ["stale_scan"], validUntil: tomorrow,
    },
    { name: "exceptions do not help an unscanned image", image: anImage().unscanned().build(), exceptions: [anException(cve)], compliant: false, status: "not_scanned", codes: ["not_scanned"] },
  ])("$name", check);

  test("the verdict flips back when the exception expires", () => {
    const image = critical().build();
    const exceptions = [anException(cve, { expiresAt: at(DAY_MS) })];
    const before = evaluate({ image, exceptions, now: at(DAY_MS - 1) });
    const after = evaluate({ image, exceptions, now: before.validUntil ?? NOW });
    expect([before.isCompliant, after.isCompliant]).toEqual([true, false]);
  });
});

describe("summaryReason", () => {
  test.each<[string, Case["image"], PolicyRules, string]>([
    ["compliant", anImage().build(), aPolicy(), "compliant"],
    ["no report", anImage().unscanned().build(), aPolicy(), "no scan report for this image"],
    ["no report, allowed", anImage().unscanned().build(), aPolicy({ unscanned: "allow" }), "no scan report for this image; allowed by policy"],
    ["first reason", critical().withSecret().build(), aPolicy(), `1 CRITICAL vulnerability (limit 0): ${cve}`],
  ])("%s", (_name, image, policy, expected) => {
    expect(summaryReason(evaluateCompliance(image, policy, [], NOW))).toBe(expected);
  });

  test("a verdict without reasons", () => {
    expect(summaryReason({ isCompliant: false, status: "not_scanned", reasons: [], validUntil: null })).toBe("no scan report for this image");
  });
});

describe("the evaluator's inputs", () => {
  const findings = [
    aFinding({ severity: "CRITICAL" }),
    aFinding({ severity: "CRITICAL", pkgName: "libssl3" }), // same CVE, second package: Trivy counts both
    aFinding({ severity: "HIGH", fixedVersion: null, status: "affected" }),
    aFinding({ severity: "HIGH", fixedVersion: "  ", status: "affected" }),
    aFinding({ severity: "MEDIUM", status: "not_affected" }),
    aFinding({ severity: "LOW", fixedVersion: null, status: "will_not_fix" }),
    aFinding({ severity: "UNKNOWN" }),
    aFinding({ kind: "secret", vulnerabilityId: "private-key", fixedVersion: null, status: null }),
    aFinding({ kind: "misconfiguration", vulnerabilityId: "DS002", fixedVersion: null, status: "FAIL" }),
    aFinding({ kind: "misconfiguration", vulnerabilityId: "DS001", fixedVersion: null, status: "PASS" }),
    aFinding({ kind: "misconfiguration", vulnerabilityId: "DS005", fixedVersion: null, status: null }),
  ];

  test("summarizeFindings counts as Trivy's summary does", () => {
    expect(summarizeFindings(findings)).toEqual({ critical: 2, high: 2, medium: 0, low: 1, unknown: 1, fixable: 3, secrets: 1, misconfigurations: 2 });
  });

  test("toEvaluationInput keeps what can count, and reads back through its schema", () => {
    const input = toEvaluationInput(findings);
    expect(input.map((f) => `${f.k}:${f.id}:${f.sev}:${f.fix}:${f.st}`)).toEqual([
      "v:CVE-2026-0001:CRITICAL:true:fixed",
      "v:CVE-2026-0001:CRITICAL:true:fixed",
      "v:CVE-2026-0001:HIGH:false:affected",
      "v:CVE-2026-0001:HIGH:false:affected",
      "v:CVE-2026-0001:LOW:false:will_not_fix",
      "v:CVE-2026-0001:UNKNOWN:true:fixed",
      "s:private-key:HIGH:false:null",
      "m:DS002:HIGH:false:FAIL",
      "m:DS005:HIGH:false:null",
    ]);
    expect(parseEvaluationInput(JSON.stringify(input))).toEqual(input);
    expect(evaluationInputSchema.parse(JSON.parse(JSON.stringify(input)))).toEqual(input);
  });

  test("a malformed stored input throws instead of reading as no findings", () => {
    expect(() => parseEvaluationInput([{ k: "v", id: "CVE-1", sev: "SEVERE", fix: true, st: null }])).toThrow(/0\.sev/);
    expect(() => parseEvaluationInput({})).toThrow(/malformed/);
  });
});
