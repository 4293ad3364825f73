/**
 * Trivy JSON, SchemaVersion 2 (`trivy image --format json`, Trivy ≥ 0.19), as written by Trivy's
 * pkg/types/report.go: Results[].Vulnerabilities / Secrets / Misconfigurations.
 *
 * Schema policy: every field Trivy marks `omitempty` is optional (older versions lack CreatedAt, Trivy, Status,
 * PkgIdentifier, ...), and null is accepted wherever Go may write a nil slice/pointer. Unknown fields are ignored
 * (zod's default object mode strips them), so fields newer Trivy versions add never break decoding; stripping
 * rather than passing them through keeps the decoded copy small on 50 MB reports.
 *
 * Severity: a string is normalised case-insensitively; an unrecognised string (e.g. "NEGLIGIBLE") becomes UNKNOWN,
 * as Trivy does. A non-string (e.g. 42) is a shape error with its path: coercing it to UNKNOWN could let a
 * hand-edited or corrupted report pass a policy that blocks CRITICAL findings.
 */
import { z } from "zod";
import type { DecodedReport, Finding } from "../domain/report";
import { normalizeSeverity, type Severity } from "../domain/severity";
import {
  VulnerabilityInfoCollector,
  artifactNameAsTag,
  emptyInfo,
  nonEmpty,
  parseDate,
  parseShape,
  positiveScore,
  uniqueStrings,
} from "./shared";

const optString = z.string().nullish();
const optNumber = z.number().nullish();
const optStringArray = z.array(z.string()).nullish();

const cvssSchema = z.object({ V2Score: optNumber, V3Score: optNumber, V40Score: optNumber });

const vulnerabilitySchema = z.object({
  VulnerabilityID: z.string().min(1),
  PkgName: optString,
  PkgIdentifier: z.object({ PURL: optString }).nullish(),
  InstalledVersion: optString,
  FixedVersion: optString,
  Status: optString,
  PrimaryURL: optString,
  Title: optString,
  Description: optString,
  Severity: optString,
  CVSS: z.record(z.string(), cvssSchema.nullish()).nullish(),
  PublishedDate: optString,
  LastModifiedDate: optString,
});

const secretSchema = z.object({
  RuleID: z.string().min(1),
  Category: optString,
  Severity: optString,
  Title: optString,
});

const misconfigurationSchema = z
  .object({
    ID: optString,
    AVDID: optString,
    Type: optString,
    Title: optString,
    Description: optString,
    Severity: optString,
    PrimaryURL: optString,
    Status: optString,
  })
  .refine((m) => !!nonEmpty(m.ID) || !!nonEmpty(m.AVDID), { message: "a misconfiguration needs an ID or AVDID" });

/**
 * Trivy's ModifiedFinding (pkg/types/finding.go): a finding that an ignore file (Status "ignored") or a VEX document
 * ("not_affected", …) took out of its list, kept under ExperimentalModifiedFindings by `--show-suppressed`. Licenses
 * and any later kind are not findings here; a vulnerability, secret or misconfiguration must have its list's shape.
 */
const MODIFIED_KINDS: ReadonlySet<unknown> = new Set(["vulnerability", "secret", "misconfiguration"]);
const modifiedFindingSchema = z.union([
  z.object({ Type: z.literal("vulnerability"), Status: optString, Finding: vulnerabilitySchema }),
  z.object({ Type: z.literal("secret"), Status: optString, Finding: secretSchema }),
  z.object({ Type: z.literal("misconfiguration"), Status: optString, Finding: misconfigurationSchema }),
  z.object({ Type: optString.refine((t) => !MODIFIED_KINDS.has(t), { message: "a finding of this Type must have its list's shape" }), Status: optString }),
]);

const resultSchema = z.object({
  Target: optString,
  Class: optString,
  Type: optString,
  Vulnerabilities: z.array(vulnerabilitySchema).nullish(),
  Secrets: z.array(secretSchema).nullish(),
  Misconfigurations: z.array(misconfigurationSchema).nullish(),
  ExperimentalModifiedFindings: z.array(modifiedFindingSchema).nullish(),
});

export const trivyReportSchema = z.object({
  SchemaVersion: z.literal(2),
  CreatedAt: optString,
  ArtifactName: optString,
  ArtifactType: optString,
  Metadata: z
    .object({
      OS: z.object({ Family: optString, Name: optString }).nullish(),
      ImageID: optString,
      RepoTags: optStringArray,
      RepoDigests: optStringArray,
    })
    .nullish(),
  Results: z.array(resultSchema).nullish(),
  Trivy: z.object({ Version: optString }).nullish(),
});

type TrivyVulnerability = z.output<typeof vulnerabilitySchema>;
type TrivySecret = z.output<typeof secretSchema>;
type TrivyMisconfiguration = z.output<typeof misconfigurationSchema>;
type TrivyModifiedFinding = z.output<typeof modifiedFindingSchema>;
type TrivyReport = z.output<typeof trivyReportSchema>;

// The schema above, checked by hand for the common case: zod builds a stripped copy of every object it parses, which
// for a 10,000-finding report cost as much as JSON.parse itself. Every check is as strict as the schema's (or
// stricter), so a document that passes is one the schema accepts, with the same values in the fields decoded; a
// document that fails goes through the schema, which finds and describes the problem. test/unit/formats/trivy.test.ts
// compares both paths on generated documents.
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isOptString = (v: unknown) => v === undefined || v === null || typeof v === "string";
const isOptNumber = (v: unknown) => v === undefined || v === null || (typeof v === "number" && Number.isFinite(v));
const isOptObject = (v: unknown) => v === undefined || v === null || isObject(v);

function hasOptStrings(o: Json, keys: readonly string[]): boolean {
  for (const k of keys) if (!isOptString(o[k])) return false;
  return true;
}

function isOptArrayOf(v: unknown, check: (item: unknown) => boolean): boolean {
  if (v === undefined || v === null) return true;
  if (!Array.isArray(v)) return false;
  for (const item of v) if (!check(item)) return false;
  return true;
}

const VULNERABILITY_STRINGS = ["PkgName", "InstalledVersion", "FixedVersion", "Status", "PrimaryURL", "Title", "Description", "Severity", "PublishedDate", "LastModifiedDate"];

function isVulnerability(v: unknown): boolean {
  if (!isObject(v) || typeof v.VulnerabilityID !== "string" || v.VulnerabilityID.length === 0) return false;
  if (!hasOptStrings(v, VULNERABILITY_STRINGS)) return false;
  const id = v.PkgIdentifier;
  if (!isOptObject(id) || (isObject(id) && !isOptString(id.PURL))) return false;
  const cvss = v.CVSS;
  if (cvss === undefined || cvss === null) return true;
  if (!isObject(cvss)) return false;
  for (const source in cvss) {
    if (source === "__proto__") return false; // a copy would not keep it as a key: leave such a document to zod
    const c = cvss[source];
    if (c === undefined || c === null) continue;
    if (!isObject(c) || !isOptNumber(c.V2Score) || !isOptNumber(c.V3Score) || !isOptNumber(c.V40Score)) return false;
  }
  return true;
}

const isSecret = (s: unknown) => isObject(s) && typeof s.RuleID === "string" && s.RuleID.length > 0 && hasOptStrings(s, ["Category", "Severity", "Title"]);

const isMisconfiguration = (m: unknown) =>
  isObject(m) &&
  hasOptStrings(m, ["ID", "AVDID", "Type", "Title", "Description", "Severity", "PrimaryURL", "Status"]) &&
  (!!nonEmpty(m.ID as string | null | undefined) || !!nonEmpty(m.AVDID as string | null | undefined));

const isModifiedFinding = (m: unknown) =>
  isObject(m) &&
  hasOptStrings(m, ["Type", "Status"]) &&
  (m.Type === "vulnerability" ? isVulnerability(m.Finding) : m.Type === "secret" ? isSecret(m.Finding) : m.Type === "misconfiguration" ? isMisconfiguration(m.Finding) : true);

const isResult = (r: unknown) =>
  isObject(r) &&
  hasOptStrings(r, ["Target", "Class", "Type"]) &&
  isOptArrayOf(r.Vulnerabilities, isVulnerability) &&
  isOptArrayOf(r.Secrets, isSecret) &&
  isOptArrayOf(r.Misconfigurations, isMisconfiguration) &&
  isOptArrayOf(r.ExperimentalModifiedFindings, isModifiedFinding);

/** Whether `json` certainly matches trivyReportSchema (false: let the schema decide and explain). */
export function isTrivyReportShape(json: unknown): json is TrivyReport {
  if (!isObject(json) || json.SchemaVersion !== 2 || !hasOptStrings(json, ["CreatedAt", "ArtifactName", "ArtifactType"])) return false;
  const meta = json.Metadata;
  if (!isOptObject(meta)) return false;
  if (isObject(meta)) {
    if (!isOptObject(meta.OS) || (isObject(meta.OS) && !hasOptStrings(meta.OS, ["Family", "Name"]))) return false;
    if (!isOptString(meta.ImageID) || !isOptArrayOf(meta.RepoTags, (t) => typeof t === "string") || !isOptArrayOf(meta.RepoDigests, (t) => typeof t === "string")) return false;
  }
  if (!isOptObject(json.Trivy) || (isObject(json.Trivy) && !isOptString(json.Trivy.Version))) return false;
  return isOptArrayOf(json.Results, isResult);
}

/** Highest CVSS v3 score over all sources, else the highest v4.0, else the highest v2 (Trivy writes 0 for "none"). */
function bestCvssScore(cvss: TrivyVulnerability["CVSS"]): number | null {
  const sources = Object.values(cvss ?? {});
  for (const key of ["V3Score", "V40Score", "V2Score"] as const) {
    const scores = sources.map((s) => positiveScore(s?.[key])).filter((s): s is number => s !== null);
    if (scores.length > 0) return Math.max(...scores);
  }
  return null;
}

/** `checkByHand: false` validates with the schema only (tests compare both). */
export function decodeTrivyReport(json: unknown, checkByHand = true): DecodedReport {
  const report = checkByHand && isTrivyReportShape(json) ? json : parseShape(trivyReportSchema, json, "Trivy JSON report");
  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();
  type Place = { target: string | null; cls: string | null; type: string | null };

  const addVulnerability = (v: TrivyVulnerability, status: string | null, at: Place) => {
    const severity = normalizeSeverity(v.Severity);
    findings.push({
      kind: "vulnerability",
      vulnerabilityId: v.VulnerabilityID,
      pkgName: nonEmpty(v.PkgName),
      installedVersion: nonEmpty(v.InstalledVersion),
      fixedVersion: nonEmpty(v.FixedVersion),
      status,
      severity,
      target: at.target,
      class: at.cls,
      pkgType: at.type,
      purl: nonEmpty(v.PkgIdentifier?.PURL),
    });
    infos.add({
      id: v.VulnerabilityID,
      title: nonEmpty(v.Title),
      description: nonEmpty(v.Description),
      severity,
      cvssScore: bestCvssScore(v.CVSS),
      publishedAt: parseDate(v.PublishedDate),
      lastModifiedAt: parseDate(v.LastModifiedDate),
      primaryUrl: nonEmpty(v.PrimaryURL),
    });
  };

  /** A secret or misconfiguration: no package, the result's class unless it has none. */
  const addPackageless = (kind: "secret" | "misconfiguration", id: string, status: string | null, severity: Severity, at: Place) =>
    findings.push({
      kind,
      vulnerabilityId: id,
      pkgName: null,
      installedVersion: null,
      fixedVersion: null,
      status,
      severity,
      target: at.target,
      class: at.cls ?? (kind === "secret" ? "secret" : "config"),
      pkgType: at.type,
      purl: null,
    });

  // Secrets have no package and no status: Trivy reports every match as a finding.
  const addSecret = (s: TrivySecret, status: string | null, at: Place) => {
    const severity = normalizeSeverity(s.Severity);
    addPackageless("secret", s.RuleID, status, severity, at);
    infos.add({ ...emptyInfo(s.RuleID), title: nonEmpty(s.Title), severity });
  };

  // Misconfigurations keep Trivy's Status (FAIL/PASS/EXCEPTION): only FAIL counts (see isCountable).
  const addMisconfiguration = (m: TrivyMisconfiguration, status: string | null, at: Place) => {
    const id = (nonEmpty(m.ID) ?? nonEmpty(m.AVDID))!;
    const severity = normalizeSeverity(m.Severity);
    addPackageless("misconfiguration", id, status, severity, at);
    infos.add({
      ...emptyInfo(id),
      title: nonEmpty(m.Title),
      description: nonEmpty(m.Description),
      severity,
      primaryUrl: nonEmpty(m.PrimaryURL),
    });
  };

  const addModified = (modified: TrivyModifiedFinding, at: Place) => {
    // Licenses, and any kind a later Trivy adds, are not findings here: only the three kinds below are read (a
    // document checked by hand keeps their Finding too, so the Type decides, not the key).
    if (!("Finding" in modified)) return;
    // Only not_affected takes a finding out, as everywhere in the registry; "ignored" (an ignore file) becomes the
    // status, visible to analysts; a VEX "fixed", "affected" or "under_investigation" leaves the finding's own status.
    const how = nonEmpty(modified.Status)?.toLowerCase();
    const notAffected = how === "not_affected" ? how : null;
    const ignored = how === "ignored" ? how : null;
    if (modified.Type === "vulnerability") addVulnerability(modified.Finding, notAffected ?? ignored ?? nonEmpty(modified.Finding.Status), at);
    else if (modified.Type === "secret") addSecret(modified.Finding, notAffected ?? ignored, at);
    // A misconfiguration counts by its own check status (FAIL) unless a VEX says not_affected.
    else if (modified.Type === "misconfiguration") addMisconfiguration(modified.Finding, notAffected ?? nonEmpty(modified.Finding.Status)?.toUpperCase() ?? null, at);
  };

  for (const result of report.Results ?? []) {
    const target = nonEmpty(result.Target);
    const cls = nonEmpty(result.Class);
    const type = nonEmpty(result.Type);

    const at = { target, cls, type };
    for (const v of result.Vulnerabilities ?? []) addVulnerability(v, nonEmpty(v.Status), at);
    for (const s of result.Secrets ?? []) addSecret(s, null, at);
    for (const m of result.Misconfigurations ?? []) addMisconfiguration(m, nonEmpty(m.Status)?.toUpperCase() ?? null, at);
    // What an ignore file or a VEX document took out of the lists (`--show-suppressed`) is a finding all the same:
    // the registry's exceptions decide what counts, not the filter CI ran with. A VEX not_affected never counts; an
    // ignored finding counts as any finding does, so a report filtered by the registry's own exported ignore file is
    // judged as the unfiltered one, and again once an exception has expired.
    for (const modified of result.ExperimentalModifiedFindings ?? []) addModified(modified, at);
  }

  const artifactType = nonEmpty(report.ArtifactType);
  const repoTags = uniqueStrings(report.Metadata?.RepoTags);
  if (repoTags.length === 0 && artifactType === "container_image") {
    const tag = artifactNameAsTag(report.ArtifactName);
    if (tag) repoTags.push(tag);
  }

  return {
    format: "trivy",
    scanner: "trivy",
    scannerVersion: nonEmpty(report.Trivy?.Version),
    scannedAt: parseDate(report.CreatedAt),
    artifactName: nonEmpty(report.ArtifactName),
    artifactType,
    configDigest: nonEmpty(report.Metadata?.ImageID),
    osFamily: nonEmpty(report.Metadata?.OS?.Family),
    osName: nonEmpty(report.Metadata?.OS?.Name),
    repoDigests: uniqueStrings(report.Metadata?.RepoDigests),
    repoTags,
    findings,
    vulnerabilities: infos.list(),
  };
}
