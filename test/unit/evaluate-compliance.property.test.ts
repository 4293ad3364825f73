import fc from "fast-check";
import { evaluateCompliance, type ImageUnderEvaluation } from "../../src/domain/evaluate-compliance";
import type { EvaluationFinding } from "../../src/domain/evaluation-input";
import type { PolicyExceptionRule } from "../../src/domain/exception";
import { type PolicyRules } from "../../src/domain/policy";
import { SEVERITIES, type Severity } from "../../src/domain/severity";
import type { Reason, Verdict } from "../../src/domain/verdict";
import { at, DAY_MS, DIGEST_A, DIGEST_B, NOW } from "../support/builders";
import { policyRulesArbitrary } from "../support/policy-arbitrary";

// Small pools so that findings, exceptions and globs collide often.
const IDS = ["CVE-2024-1", "CVE-2024-2", "CVE-2024-3", "GHSA-abcd-efgh-ijkl", "private-key", "DS002", "DS005"];
const REPOSITORIES = ["docker.io/library/nginx", "ghcr.io/acme/team/app", null];
const GLOBS = ["docker.io/**", "docker.io/library/*", "ghcr.io/acme/*", "ghcr.io/**/app", "**", "quay.io/x"];
const STATUSES = [null, "fixed", "affected", "will_not_fix", "not_affected", "FAIL", "PASS"];

const severity = fc.constantFrom<Severity>(...SEVERITIES);
const finding: fc.Arbitrary<EvaluationFinding> = fc.record({
  k: fc.constantFrom("v" as const, "s" as const, "m" as const),
  id: fc.constantFrom(...IDS),
  sev: severity,
  fix: fc.boolean(),
  st: fc.constantFrom(...STATUSES),
});
const instant = (minDays: number, maxDays: number) => fc.integer({ min: minDays * DAY_MS, max: maxDays * DAY_MS }).map((ms) => at(ms));

const image: fc.Arbitrary<ImageUnderEvaluation> = fc.record({
  imageDigest: fc.constantFrom(DIGEST_A, DIGEST_B),
  repository: fc.constantFrom(...REPOSITORIES),
  scannedAt: fc.option(instant(-60, 1), { nil: null, freq: 8 }),
  findings: fc.array(finding, { maxLength: 25 }),
});

const limit = fc.integer({ min: 0, max: 3 });
const policy = policyRulesArbitrary;

let seq = 0;
const exception: fc.Arbitrary<PolicyExceptionRule> = fc.record({
  id: fc.constant("").map(() => `exc-${++seq}`),
  vulnerabilityId: fc.constantFrom(...IDS),
  repository: fc.option(fc.constantFrom(...GLOBS), { nil: null }),
  imageDigest: fc.option(fc.constantFrom(DIGEST_A, DIGEST_B), { nil: null }),
  expiresAt: fc.option(instant(-10, 10), { nil: null }),
});
const exceptions = fc.array(exception, { maxLength: 6 });

const RUNS = { numRuns: 1000 };
const evaluate = (i: ImageUnderEvaluation, p: PolicyRules, e: readonly PolicyExceptionRule[], now = NOW) => evaluateCompliance(i, p, e, now);

const sameRule = (a: Reason, b: Reason) => a.code === b.code && a.severity === b.severity;

/** `better` is at least as compliant as `worse`: never blocked where `worse` is not, nor by more findings. */
function expectAtLeastAsCompliant(better: Verdict, worse: Verdict): void {
  if (worse.isCompliant) expect(better.isCompliant).toBe(true);
  if (better.status === "stale") expect(worse.status).toBe("stale");
  for (const r of better.reasons) {
    if (r.code === "unscanned_allowed") continue;
    const counterpart = worse.reasons.find((w) => sameRule(w, r));
    expect(counterpart).toBeDefined();
    expect(r.count ?? 0).toBeLessThanOrEqual(counterpart?.count ?? 0);
  }
}

test("an added exception never makes an image less compliant", () => {
  fc.assert(
    fc.property(image, policy, exceptions, exception, (i, p, es, extra) => {
      expectAtLeastAsCompliant(evaluate(i, p, [...es, extra]), evaluate(i, p, es));
    }),
    RUNS,
  );
});

type Tightening = (p: PolicyRules) => PolicyRules;
const tightening: fc.Arbitrary<Tightening> = fc.oneof(
  fc.tuple(severity, limit).map(([sev, n]): Tightening => (p) => {
    const current = p.max_severity_counts[sev];
    return { ...p, max_severity_counts: { ...p.max_severity_counts, [sev]: current === undefined ? n : Math.min(current, n) } };
  }),
  fc.constant<Tightening>((p) => ({ ...p, ignore_unfixed: false })),
  fc.constant<Tightening>((p) => ({ ...p, block_secrets: true })),
  severity.map((sev): Tightening => (p) => ({ ...p, block_misconfiguration_severities: [...new Set([...p.block_misconfiguration_severities, sev])] })),
);

test("a tightened policy never makes an image more compliant", () => {
  fc.assert(
    fc.property(image, policy, exceptions, fc.array(tightening, { minLength: 1, maxLength: 3 }), (i, p, es, steps) => {
      const tight = steps.reduce((q, step) => step(q), p);
      expectAtLeastAsCompliant(evaluate(i, p, es), evaluate(i, tight, es));
    }),
    RUNS,
  );
});

test("not_affected findings never change the verdict", () => {
  const notAffected = fc.record({
    k: fc.constantFrom("v" as const, "s" as const),
    id: fc.constantFrom(...IDS),
    sev: severity,
    fix: fc.boolean(),
    st: fc.constantFrom("not_affected", "NOT_AFFECTED", "Not_Affected"),
  });
  fc.assert(
    fc.property(image, policy, exceptions, fc.array(notAffected, { minLength: 1, maxLength: 10 }), fc.nat(), (i, p, es, extra, pos) => {
      const at = pos % (i.findings.length + 1);
      const findings = [...i.findings.slice(0, at), ...extra, ...i.findings.slice(at)];
      expect(evaluate({ ...i, findings }, p, es)).toEqual(evaluate(i, p, es));
    }),
    RUNS,
  );
});

test("the order of findings and exceptions does not matter", () => {
  fc.assert(
    fc.property(image, policy, exceptions, (i, p, es) => {
      expect(evaluate({ ...i, findings: [...i.findings].reverse() }, p, [...es].reverse())).toEqual(evaluate(i, p, es));
    }),
    RUNS,
  );
});

test("the verdict holds at every instant before validUntil", () => {
  fc.assert(
    fc.property(image, policy, exceptions, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (i, p, es, fraction) => {
      const v = evaluate(i, p, es);
      const horizon = v.validUntil === null ? 400 * DAY_MS : v.validUntil.getTime() - NOW.getTime();
      expect(horizon).toBeGreaterThan(0);
      const later = at(Math.floor(fraction * horizon));
      expect(evaluate(i, p, es, later)).toEqual(v);
      // and one millisecond before the bound, the closest instant that must still agree
      expect(evaluate(i, p, es, at(horizon - 1))).toEqual(v);
    }),
    RUNS,
  );
});

test("validUntil is not needlessly early: the verdict does change at validUntil for a single expiring exception", () => {
  fc.assert(
    fc.property(policy, severity, instant(0, 10).filter((d) => d.getTime() > NOW.getTime()), (p, sev, expiresAt) => {
      const q = { ...p, max_severity_counts: { [sev]: 0 } };
      const i: ImageUnderEvaluation = { imageDigest: DIGEST_A, repository: null, scannedAt: NOW, findings: [{ k: "v", id: "CVE-2024-1", sev, fix: true, st: "fixed" }] };
      const es = [{ id: "e", vulnerabilityId: "CVE-2024-1", repository: null, imageDigest: null, expiresAt }];
      const v = evaluate(i, { ...q, max_scan_age_days: null }, es);
      expect(v.validUntil).toEqual(expiresAt);
      expect(evaluate(i, { ...q, max_scan_age_days: null }, es, expiresAt).isCompliant).toBe(!v.isCompliant);
    }),
    { numRuns: 200 },
  );
});
