import type { EvaluationFinding } from "./evaluation-input";
import { exceptionApplies, type PolicyExceptionRule } from "./exception";
import type { PolicyRules } from "./policy";
import { isCountable } from "./report";
import { SEVERITIES, type FindingKind, type Severity } from "./severity";
import type { Reason, Verdict } from "./verdict";

export interface ImageUnderEvaluation {
  imageDigest: string;
  repository: string | null;
  /** null = no report for this image. */
  scannedAt: Date | null;
  findings: readonly EvaluationFinding[];
}

const MAX_IDS = 5;
const DAY_MS = 86_400_000;
const NO_REPORT = "no scan report for this image";
const KIND: Record<EvaluationFinding["k"], FindingKind> = { v: "vulnerability", s: "secret", m: "misconfiguration" };
const RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };

/** Findings that count against one rule: `count` is per finding, the IDs are distinct with their highest severity. */
class Tally {
  count = 0;
  private readonly ids = new Map<string, number>();

  add(f: EvaluationFinding): void {
    this.count++;
    const rank = RANK[f.sev];
    const seen = this.ids.get(f.id);
    if (seen === undefined || rank < seen) this.ids.set(f.id, rank);
  }

  get total(): number {
    return this.ids.size;
  }

  /** Most severe first, then by ID in code-point order so that the answer does not depend on the locale. */
  firstIds(): string[] {
    return [...this.ids]
      .sort(([a, ra], [b, rb]) => ra - rb || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, MAX_IDS)
      .map(([id]) => id);
  }
}

/**
 * The stored findings a policy can count at all: evaluateCompliance skips every other one, so a reader may leave
 * them out of the input and get the same verdict (re-evaluation filters them in SQL, so 100,000 images' mostly
 * MEDIUM and LOW findings are neither sent nor parsed under a CRITICAL/HIGH policy).
 */
export interface CountedFindings {
  /** Vulnerabilities of these severities (those with a limit)... */
  vulnerabilitySeverities: Severity[];
  /** ...and only the fixable ones when the policy ignores unfixed findings. */
  fixableOnly: boolean;
  /** Secrets of any severity. */
  secrets: boolean;
  /** Misconfigurations of these severities. */
  misconfigurationSeverities: Severity[];
}

export function countedFindings(policy: PolicyRules): CountedFindings {
  return {
    vulnerabilitySeverities: SEVERITIES.filter((s) => policy.max_severity_counts[s] !== undefined),
    fixableOnly: policy.ignore_unfixed,
    secrets: policy.block_secrets,
    misconfigurationSeverities: SEVERITIES.filter((s) => policy.block_misconfiguration_severities.includes(s)),
  };
}

/**
 * The verdict for one image: pure, so the same function serves ingest, lookups, re-evaluation and dry-runs.
 * `exceptions` may include ones that have expired by `now`; they are ignored.
 */
export function evaluateCompliance(
  image: ImageUnderEvaluation,
  policy: PolicyRules,
  exceptions: readonly PolicyExceptionRule[],
  now: Date,
): Verdict {
  if (image.scannedAt === null) return unscannedVerdict(policy);
  const nowMs = now.getTime();

  // For each excepted ID, the instant it stops being excepted: the latest expiry among the exceptions covering it.
  const exceptedUntil = new Map<string, number>();
  for (const rule of exceptions) {
    if (!exceptionApplies(rule, image, now)) continue;
    const until = rule.expiresAt === null ? Infinity : rule.expiresAt.getTime();
    if (!(until <= (exceptedUntil.get(rule.vulnerabilityId) ?? -Infinity))) exceptedUntil.set(rule.vulnerabilityId, until);
  }

  const limits = policy.max_severity_counts;
  // The same selection countedFindings describes to readers that filter the input beforehand.
  const counted = countedFindings(policy);
  const countedVulnerabilities = new Set<Severity>(counted.vulnerabilitySeverities);
  const blockedMisconfigurations = new Set<Severity>(counted.misconfigurationSeverities);
  const vulnerabilities = new Map<Severity, Tally>();
  const misconfigurations = new Map<Severity, Tally>();
  const secrets = new Tally();
  let validUntil = Infinity;

  for (const f of image.findings) {
    if (!isCountable({ kind: KIND[f.k], status: f.st })) continue;
    let tally: Tally;
    if (f.k === "v") {
      if (!countedVulnerabilities.has(f.sev) || (counted.fixableOnly && !f.fix)) continue;
      tally = tallyFor(vulnerabilities, f.sev);
    } else if (f.k === "s") {
      if (!counted.secrets) continue;
      tally = secrets;
    } else {
      if (!blockedMisconfigurations.has(f.sev)) continue;
      tally = tallyFor(misconfigurations, f.sev);
    }
    // Only an exception that removes a finding some rule would count can change the verdict when it expires.
    const until = exceptedUntil.get(f.id);
    if (until !== undefined) validUntil = Math.min(validUntil, until);
    else tally.add(f);
  }

  const reasons: Reason[] = [];
  let stale = false;
  if (policy.max_scan_age_days !== null) {
    const staleAt = image.scannedAt.getTime() + policy.max_scan_age_days * DAY_MS;
    if (staleAt <= nowMs) {
      stale = true;
      reasons.push(staleReason(image.scannedAt, policy.max_scan_age_days));
    } else validUntil = Math.min(validUntil, staleAt);
  }
  for (const severity of SEVERITIES) {
    const tally = vulnerabilities.get(severity);
    const limit = limits[severity];
    if (tally && limit !== undefined && tally.count > limit) reasons.push(thresholdReason(severity, tally, limit));
  }
  if (secrets.count > 0) reasons.push(secretReason(secrets));
  for (const severity of SEVERITIES) {
    const tally = misconfigurations.get(severity);
    if (tally && tally.count > 0) reasons.push(misconfigurationReason(severity, tally));
  }

  return {
    isCompliant: reasons.length === 0,
    status: stale ? "stale" : reasons.length > 0 ? "non_compliant" : "compliant",
    reasons,
    validUntil: validUntil === Infinity ? null : new Date(validUntil),
  };
}

/** The one-line `reason` of an API answer. */
export function summaryReason(verdict: Verdict): string {
  const first = verdict.reasons[0];
  if (first) return first.message;
  return verdict.status === "not_scanned" ? NO_REPORT : verdict.status === "compliant" ? "compliant" : verdict.status;
}

function unscannedVerdict(policy: PolicyRules): Verdict {
  const allowed = policy.unscanned === "allow";
  const reason: Reason = allowed
    ? { code: "unscanned_allowed", message: `${NO_REPORT}; allowed by policy` }
    : { code: "not_scanned", message: NO_REPORT };
  return { isCompliant: allowed, status: "not_scanned", reasons: [reason], validUntil: null };
}

function tallyFor(tallies: Map<Severity, Tally>, severity: Severity): Tally {
  let tally = tallies.get(severity);
  if (!tally) tallies.set(severity, (tally = new Tally()));
  return tally;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function idList(ids: string[], total: number): string {
  const more = total - ids.length;
  return more > 0 ? `${ids.join(", ")} and ${more} more` : ids.join(", ");
}

function thresholdReason(severity: Severity, t: Tally, limit: number): Reason {
  const ids = t.firstIds();
  return {
    code: "severity_threshold",
    message: `${plural(t.count, `${severity} vulnerability`, `${severity} vulnerabilities`)} (limit ${limit}): ${idList(ids, t.total)}`,
    severity,
    count: t.count,
    limit,
    ids,
    total: t.total,
  };
}

function secretReason(t: Tally): Reason {
  const ids = t.firstIds();
  return {
    code: "secret_found",
    message: `${plural(t.count, "secret")} found: ${idList(ids, t.total)}`,
    count: t.count,
    limit: 0,
    ids,
    total: t.total,
  };
}

function misconfigurationReason(severity: Severity, t: Tally): Reason {
  const ids = t.firstIds();
  return {
    code: "misconfiguration",
    message: `${plural(t.count, `${severity} misconfiguration`)}: ${idList(ids, t.total)}`,
    severity,
    count: t.count,
    limit: 0,
    ids,
    total: t.total,
  };
}

function staleReason(scannedAt: Date, maxAgeDays: number): Reason {
  return {
    code: "stale_scan",
    message: `scan from ${scannedAt.toISOString()} has reached the maximum age of ${plural(maxAgeDays, "day")}`,
    scanned_at: scannedAt.toISOString(),
    max_age_days: maxAgeDays,
  };
}
