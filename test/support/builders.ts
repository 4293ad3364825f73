import type { ImageUnderEvaluation } from "../../src/domain/evaluate-compliance";
import type { EvaluationFinding } from "../../src/domain/evaluation-input";
import type { PolicyExceptionRule } from "../../src/domain/exception";
import { policyRulesSchema, type PolicyRules } from "../../src/domain/policy";
import type { Finding } from "../../src/domain/report";

export const NOW = new Date("2026-06-01T12:00:00.000Z");
export const DAY_MS = 86_400_000;
export const at = (offsetMs: number, from: Date = NOW): Date => new Date(from.getTime() + offsetMs);
export const daysAgo = (days: number): Date => at(-days * DAY_MS);

export const DIGEST_A = `sha256:${"a".repeat(64)}`;
export const DIGEST_B = `sha256:${"b".repeat(64)}`;

/** A policy: the given rules over the defaults, validated like a PUT would be. */
export const aPolicy = (rules: Record<string, unknown> = {}): PolicyRules => policyRulesSchema.parse(rules);

export class ImageBuilder {
  private digest = DIGEST_A;
  private repository: string | null = "docker.io/library/nginx";
  private scanned: Date | null = daysAgo(1);
  private readonly findings: EvaluationFinding[] = [];
  private next = 1;

  withDigest(digest: string): this {
    this.digest = digest;
    return this;
  }

  inRepository(repository: string | null): this {
    this.repository = repository;
    return this;
  }

  scannedAt(when: Date): this {
    this.scanned = when;
    return this;
  }

  /** No report at all. */
  unscanned(): this {
    this.scanned = null;
    return this;
  }

  /** A vulnerability by default (fixed, HIGH, a fresh CVE ID); `st` follows `fix` unless given. */
  withFinding(f: Partial<EvaluationFinding> = {}): this {
    const fix = f.fix ?? true;
    const k = f.k ?? "v";
    const defaultStatus = k === "v" ? (fix ? "fixed" : "affected") : k === "m" ? "FAIL" : null;
    this.findings.push({
      k,
      id: f.id ?? `CVE-2026-${String(this.next++).padStart(4, "0")}`,
      sev: f.sev ?? "HIGH",
      fix: k === "v" ? fix : false,
      st: f.st !== undefined ? f.st : defaultStatus,
    });
    return this;
  }

  withFindings(n: number, f: Partial<EvaluationFinding> = {}): this {
    for (let i = 0; i < n; i++) this.withFinding(f);
    return this;
  }

  withSecret(id = "private-key", f: Partial<EvaluationFinding> = {}): this {
    return this.withFinding({ sev: "HIGH", ...f, k: "s", id });
  }

  withMisconfiguration(id = "DS002", f: Partial<EvaluationFinding> = {}): this {
    return this.withFinding({ sev: "HIGH", ...f, k: "m", id });
  }

  build(): ImageUnderEvaluation {
    return { imageDigest: this.digest, repository: this.repository, scannedAt: this.scanned, findings: [...this.findings] };
  }
}

export const anImage = (): ImageBuilder => new ImageBuilder();

let exceptionSeq = 0;
/** Everywhere and permanent unless scoped or given an expiry. */
export const anException = (
  vulnerabilityId: string,
  rule: Partial<Omit<PolicyExceptionRule, "vulnerabilityId">> = {},
): PolicyExceptionRule => ({
  id: rule.id ?? `exc-${++exceptionSeq}`,
  vulnerabilityId,
  repository: rule.repository ?? null,
  imageDigest: rule.imageDigest ?? null,
  expiresAt: rule.expiresAt ?? null,
});

/** A full decoded finding, for the functions that take the stored model. */
export const aFinding = (f: Partial<Finding> = {}): Finding => ({
  kind: "vulnerability",
  vulnerabilityId: "CVE-2026-0001",
  pkgName: "openssl",
  installedVersion: "3.0.1",
  fixedVersion: "3.0.2",
  status: "fixed",
  severity: "HIGH",
  target: "debian 12",
  class: "os-pkgs",
  pkgType: "debian",
  purl: null,
  ...f,
});
