/**
 * Trivy's SARIF 2.1.0 (`trivy image --format sarif`, Trivy's pkg/report/sarif.go). SARIF has no package fields,
 * so package, versions and severity are read from the text Trivy writes into each result's message:
 *   vulnerability:    "Package: x\nInstalled Version: y\nVulnerability CVE-…\nSeverity: S\nFixed Version: z\nLink: …"
 *   misconfiguration: "Artifact: a\nType: t\nVulnerability ID\nSeverity: S\nMessage: …\nLink: …"
 *   secret:           "Artifact: a\nType: t\nSecret Title\nSeverity: S\nMatch: …"
 * The old contrib/sarif.tpl (Trivy < 0.20) wrote those lines into the rule's help.text instead, one rule per result:
 * read from there when the message has no "Package:" line.
 * Image identity is only in runs[0].properties (imageName, repoTags, repoDigests, imageID), written by Trivy for
 * container images.
 *
 * Severity, per result, first match wins:
 *   1. the result message's "Severity:" line — Trivy writes the finding's own severity there; the rule is shared
 *      by every result with the same ID and carries the first one's severity only;
 *   2. the rule's properties.tags severity word (Trivy writes e.g. ["vulnerability","security","MEDIUM"]), or the
 *      "[SEVERITY] ID" prefix of the old contrib/sarif.tpl rule IDs;
 *   3. the rule's properties["security-severity"] as a CVSS-like score: ≥9 CRITICAL, ≥7 HIGH, ≥4 MEDIUM, >0 LOW;
 *   4. the SARIF level (result, else the rule's defaultConfiguration): error → HIGH (Trivy writes error for CRITICAL
 *      and HIGH; HIGH is the certain lower bound), warning → MEDIUM, note → LOW (Trivy: LOW or UNKNOWN), none →
 *      UNKNOWN.
 * Kind: rule tag "secret"/"misconfiguration"/"vulnerability" (else the rule name Trivy derives from the result
 * class: Secret, Misconfiguration, *Vulnerability). License results (tag "license") are not findings and are skipped.
 * SARIF carries no vulnerability status, purl or dates: those are null.
 */
import { z } from "zod";
import { invalid, unsupported } from "../domain/errors";
import type { DecodedReport, Finding, VulnerabilityInfo } from "../domain/report";
import { SEVERITIES, type FindingKind, type Severity } from "../domain/severity";
import {
  VulnerabilityInfoCollector,
  artifactNameAsTag,
  nonEmpty,
  parseShape,
  positiveScore,
  severityFromScore,
  uniqueStrings,
} from "./shared";

const optString = z.string().nullish();
const text = z.object({ text: optString }).nullish();
const scoreLike = z.union([z.number(), z.string()]).nullish();

const ruleSchema = z.object({
  id: z.string(),
  name: optString,
  shortDescription: text,
  fullDescription: text,
  help: text,
  helpUri: optString,
  defaultConfiguration: z.object({ level: optString }).nullish(),
  properties: z
    .object({
      tags: z.array(z.string()).nullish(),
      "security-severity": scoreLike,
      cvssv3_baseScore: z.number().nullish(),
      cvssv2_score: z.number().nullish(),
    })
    .nullish(),
});

const resultSchema = z.object({
  ruleId: optString,
  ruleIndex: z.number().int().nullish(),
  rule: z.object({ id: optString, index: z.number().int().nullish() }).nullish(),
  level: optString,
  kind: optString,
  message: z.object({ text: optString }).nullish(),
  locations: z
    .array(z.object({ physicalLocation: z.object({ artifactLocation: z.object({ uri: optString }).nullish() }).nullish() }))
    .nullish(),
});

const runSchema = z.object({
  tool: z.object({
    driver: z.object({ name: z.string(), version: optString, rules: z.array(ruleSchema).nullish() }),
  }),
  results: z.array(resultSchema).nullish(),
  properties: z
    .object({
      imageName: optString,
      imageID: optString,
      repoTags: z.array(z.string()).nullish(),
      repoDigests: z.array(z.string()).nullish(),
    })
    .nullish(),
});

export const sarifReportSchema = z.object({ version: z.string().optional(), runs: z.array(runSchema).min(1) });

type Rule = z.output<typeof ruleSchema>;
type Result = z.output<typeof resultSchema>;

const OLD_TEMPLATE_ID = /^\[([A-Z]+)\]\s+(\S.*)$/;

/** "Key: value" lines of a Trivy result message. */
function messageFields(message: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of message.split(/\r?\n/)) {
    const m = /^([A-Za-z][A-Za-z ]*?):\s?(.*)$/.exec(line);
    if (m && !fields.has(m[1]!)) fields.set(m[1]!, m[2]!.trim());
  }
  return fields;
}

function severityWord(values: ReadonlyArray<string | null | undefined>): Severity | null {
  for (const v of values) {
    const upper = v?.trim().toUpperCase();
    if (upper && (SEVERITIES as readonly string[]).includes(upper)) return upper as Severity;
  }
  return null;
}

function severityFromLevel(level: string | null | undefined): Severity {
  switch (level?.toLowerCase()) {
    case "error":
      return "HIGH";
    case "warning":
      return "MEDIUM";
    case "note":
      return "LOW";
    default:
      return "UNKNOWN";
  }
}

function ruleSeverity(rule: Rule | undefined, ruleId: string): Severity | null {
  const prefixed = OLD_TEMPLATE_ID.exec(ruleId);
  const fromTags = severityWord([...(rule?.properties?.tags ?? []), prefixed?.[1]]);
  if (fromTags) return fromTags;
  const score = rule?.properties?.["security-severity"];
  const numeric = positiveScore(typeof score === "string" ? Number.parseFloat(score) : score);
  return numeric === null ? null : severityFromScore(numeric);
}

function kindOf(rule: Rule | undefined, message: string): FindingKind | "license" {
  const tags = new Set((rule?.properties?.tags ?? []).map((t) => t.toLowerCase()));
  const name = rule?.name?.toLowerCase() ?? "";
  if (tags.has("license") || name === "license") return "license";
  if (tags.has("secret") || name === "secret") return "secret";
  if (tags.has("misconfiguration") || name === "misconfiguration") return "misconfiguration";
  if (tags.has("vulnerability") || name.endsWith("vulnerability")) return "vulnerability";
  if (/^Secret /m.test(message)) return "secret";
  return "vulnerability";
}

const DEFAULT_CLASS: Record<FindingKind, string | null> = { vulnerability: null, secret: "secret", misconfiguration: "config" };

const CLASS_BY_RULE_NAME: Record<string, string> = {
  OsPackageVulnerability: "os-pkgs",
  LanguageSpecificPackageVulnerability: "lang-pkgs",
  Misconfiguration: "config",
  Secret: "secret",
};

function resolveRule(result: Result, rules: Rule[], byId: Map<string, Rule>): Rule | undefined {
  const index = result.ruleIndex ?? result.rule?.index;
  const id = nonEmpty(result.ruleId) ?? nonEmpty(result.rule?.id);
  const indexed = index !== null && index !== undefined ? rules[index] : undefined;
  if (indexed && (id === null || indexed.id === id)) return indexed;
  return id === null ? undefined : byId.get(id);
}

/** One SARIF result → a finding and its rule's shared metadata; null for results that are not findings. */
function decodeResult(result: Result, rule: Rule | undefined, rawId: string): { finding: Finding; info: VulnerabilityInfo } | null {
  const message = result.message?.text ?? "";
  const kind = kindOf(rule, message);
  if (kind === "license") return null;
  const fields = messageFields(message);
  // The old contrib/sarif.tpl wrote one rule per result and its package lines into the rule's help text; the result
  // message was the description alone.
  if (kind === "vulnerability" && !fields.has("Package")) {
    for (const [key, value] of messageFields(rule?.help?.text ?? "")) if (!fields.has(key)) fields.set(key, value);
  }
  const id = OLD_TEMPLATE_ID.exec(rawId)?.[2] ?? rawId;
  const severity =
    severityWord([fields.get("Severity")]) ??
    ruleSeverity(rule, rawId) ??
    severityFromLevel(result.level ?? rule?.defaultConfiguration?.level);
  const isVuln = kind === "vulnerability";
  const finding: Finding = {
    kind,
    vulnerabilityId: id,
    pkgName: isVuln ? nonEmpty(fields.get("Package")) : null,
    installedVersion: isVuln ? nonEmpty(fields.get("Installed Version")) : null,
    fixedVersion: isVuln ? nonEmpty(fields.get("Fixed Version")) : null,
    // SARIF's result `kind` (pass/fail) is the only status SARIF can carry; Trivy writes only failures by default.
    status: kind === "misconfiguration" ? sarifKindStatus(result.kind) : null,
    severity,
    target: nonEmpty(result.locations?.[0]?.physicalLocation?.artifactLocation?.uri),
    class: CLASS_BY_RULE_NAME[rule?.name ?? ""] ?? DEFAULT_CLASS[kind],
    pkgType: null,
    purl: null,
  };
  const props = rule?.properties;
  const info: VulnerabilityInfo = {
    id,
    title: nonEmpty(rule?.shortDescription?.text),
    description: nonEmpty(rule?.fullDescription?.text),
    severity: ruleSeverity(rule, rawId) ?? severity,
    cvssScore: isVuln ? (positiveScore(props?.cvssv3_baseScore) ?? positiveScore(props?.cvssv2_score)) : null,
    publishedAt: null,
    lastModifiedAt: null,
    primaryUrl: nonEmpty(rule?.helpUri),
  };
  return { finding, info };
}

export function decodeSarifReport(json: unknown): DecodedReport {
  const sarif = parseShape(sarifReportSchema, json, "SARIF report");
  const run0 = sarif.runs[0]!;
  const driverName = run0.tool.driver.name;
  if (!/trivy/i.test(driverName)) {
    throw unsupported(
      "sarif_not_from_trivy",
      `This SARIF report was written by ${JSON.stringify(driverName)}; only Trivy's SARIF is understood (its ` +
        "messages carry package and version). Upload `trivy image --format json <image>` instead.",
    );
  }

  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();
  sarif.runs.forEach((run, runIndex) => {
    const rules = run.tool.driver.rules ?? [];
    const byId = new Map(rules.map((r) => [r.id, r]));
    (run.results ?? []).forEach((result, resultIndex) => {
      const rule = resolveRule(result, rules, byId);
      const rawId = nonEmpty(result.ruleId) ?? nonEmpty(result.rule?.id) ?? rule?.id ?? null;
      if (rawId === null) {
        const path = `runs.${runIndex}.results.${resultIndex}.ruleId`;
        throw invalid("invalid_report", `The SARIF result at ${path} names no rule, so its ID is unknown.`, [
          { path, message: "a result needs ruleId, rule.id or a ruleIndex into tool.driver.rules" },
        ]);
      }
      const decoded = decodeResult(result, rule, rawId);
      if (decoded === null) return;
      findings.push(decoded.finding);
      infos.add(decoded.info);
    });
  });

  const props = run0.properties;
  const repoTags = uniqueStrings(props?.repoTags);
  if (repoTags.length === 0) {
    const tag = artifactNameAsTag(props?.imageName);
    if (tag) repoTags.push(tag);
  }
  return {
    format: "sarif",
    scanner: "trivy",
    scannerVersion: nonEmpty(run0.tool.driver.version),
    scannedAt: null,
    artifactName: nonEmpty(props?.imageName),
    // Trivy writes run properties only for container images.
    artifactType: props ? "container_image" : null,
    configDigest: nonEmpty(props?.imageID),
    osFamily: null,
    osName: null,
    repoDigests: uniqueStrings(props?.repoDigests),
    repoTags,
    findings,
    vulnerabilities: infos.list(),
  };
}

function sarifKindStatus(kind: string | null | undefined): string | null {
  if (kind === "pass") return "PASS";
  if (kind === "fail") return "FAIL";
  return null;
}
