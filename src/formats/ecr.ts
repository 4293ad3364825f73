/**
 * Amazon ECR scan findings (DescribeImageScanFindings, every page merged into one document) → DecodedReport.
 *
 * The document is what src/integrations/ecr/import-image.ts stores as the report's raw bytes: the response shape of
 * DescribeImageScanFindings with timestamps as ISO strings, `findings` (basic scanning) and `enhancedFindings`
 * (Amazon Inspector) each holding the findings of every page, and no `nextToken`.
 *
 * Severity (documented in docs/integrations.md):
 * - CRITICAL, HIGH, MEDIUM, LOW are kept as they are.
 * - INFORMATIONAL → LOW: it is a rated severity below LOW, the way Trivy maps a distribution's "negligible" to LOW;
 *   UNKNOWN would claim it was never rated (and policies that block UNKNOWN would block informational findings).
 * - UNDEFINED (basic) and UNTRIAGED (Inspector), and anything else → UNKNOWN.
 *
 * Inspector finding status: ACTIVE and SUPPRESSED count (a suppression rule in Inspector is invisible here and is
 * not an audited exception: grant an exception in scan-registry to accept the risk); SUPPRESSED findings are stored
 * with status `suppressed`. CLOSED findings are remediated (no longer in the image) and are not stored.
 */
import { z } from "zod";
import { DIGEST_PATTERN } from "../domain/image-reference";
import type { DecodedReport, Finding } from "../domain/report";
import type { Severity } from "../domain/severity";
import { VulnerabilityInfoCollector, nonEmpty, parseDate, parseShape, positiveScore } from "./shared";

const optString = z.string().nullish();
const optNumber = z.number().nullish();

const basicFindingSchema = z.object({
  name: z.string().min(1),
  description: optString,
  uri: optString,
  severity: optString,
  attributes: z.array(z.object({ key: z.string(), value: optString })).nullish(),
});

const vulnerablePackageSchema = z.object({
  arch: optString,
  epoch: optNumber,
  filePath: optString,
  name: optString,
  packageManager: optString,
  release: optString,
  version: optString,
  fixedInVersion: optString,
});

const enhancedFindingSchema = z.object({
  findingArn: optString,
  title: optString,
  description: optString,
  severity: optString,
  status: optString,
  type: optString,
  score: optNumber,
  scoreDetails: z.object({ cvss: z.object({ score: optNumber, version: optString }).nullish() }).nullish(),
  packageVulnerabilityDetails: z
    .object({
      vulnerabilityId: optString,
      sourceUrl: optString,
      source: optString,
      vendorSeverity: optString,
      vendorCreatedAt: optString,
      vendorUpdatedAt: optString,
      cvss: z.array(z.object({ baseScore: optNumber, version: optString, source: optString })).nullish(),
      vulnerablePackages: z.array(vulnerablePackageSchema).nullish(),
    })
    .nullish(),
});

/** The merged DescribeImageScanFindings document, as stored. */
export const ecrScanFindingsSchema = z.object({
  registryId: optString,
  repositoryName: z.string().min(1),
  imageId: z.object({ imageDigest: z.string().regex(DIGEST_PATTERN, "must be a sha256 manifest digest") }),
  imageScanStatus: z.object({ status: z.string(), description: optString }),
  imageScanFindings: z.object({
    imageScanCompletedAt: optString,
    vulnerabilitySourceUpdatedAt: optString,
    findingSeverityCounts: z.record(z.string(), z.number()).nullish(),
    findings: z.array(basicFindingSchema).nullish(),
    enhancedFindings: z.array(enhancedFindingSchema).nullish(),
  }),
});

export type EcrScanFindingsDocument = z.output<typeof ecrScanFindingsSchema>;

/** ECR/Inspector severity word → one of Trivy's five (see the file comment). */
function ecrSeverity(value: string | null | undefined): Severity {
  switch ((value ?? "").trim().toUpperCase()) {
    case "CRITICAL":
      return "CRITICAL";
    case "HIGH":
      return "HIGH";
    case "MEDIUM":
      return "MEDIUM";
    case "LOW":
    case "INFORMATIONAL":
      return "LOW";
    default:
      return "UNKNOWN";
  }
}

/** Inspector writes "NotAvailable" as the fixed version of a package without a fix. */
function fixedVersion(value: string | null | undefined): string | null {
  const text = nonEmpty(value);
  return text === null || /^not ?available$/i.test(text) ? null : text;
}

/** Installed version the way Trivy writes it for rpm/deb: [epoch:]version[-release]. */
function installedVersion(p: z.output<typeof vulnerablePackageSchema>): string | null {
  const version = nonEmpty(p.version);
  if (version === null) return null;
  const release = nonEmpty(p.release);
  const epoch = typeof p.epoch === "number" && p.epoch > 0 ? `${p.epoch}:` : "";
  return `${epoch}${version}${release ? `-${release}` : ""}`;
}

function attribute(f: z.output<typeof basicFindingSchema>, key: string): string | null {
  return nonEmpty(f.attributes?.find((a) => a.key === key)?.value);
}

export interface EcrDecodeOptions {
  /** `<account>.dkr.ecr.<region>.amazonaws.com`: ECR's findings name the repository but not the registry host. */
  registryHost: string;
  /** Tags the image carries in ECR (from DescribeImages), recorded as the report's tags. */
  tags?: readonly string[];
}

/** Decodes the merged document; shape errors are 422 `invalid_report` with paths (the import turns them into 502). */
export function decodeEcrFindings(json: unknown, options: EcrDecodeOptions): DecodedReport {
  const doc = parseShape(ecrScanFindingsSchema, json, "Amazon ECR scan-findings response");
  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();

  for (const f of doc.imageScanFindings.findings ?? []) {
    const severity = ecrSeverity(f.severity);
    findings.push({
      kind: "vulnerability",
      vulnerabilityId: f.name,
      pkgName: attribute(f, "package_name"),
      installedVersion: attribute(f, "package_version"),
      fixedVersion: null, // basic scanning does not report one
      status: null,
      severity,
      target: null,
      class: "os-pkgs", // basic scanning covers operating-system packages only
      pkgType: null,
      purl: null,
    });
    const score = positiveScore(Number(attribute(f, "CVSS3_SCORE"))) ?? positiveScore(Number(attribute(f, "CVSS2_SCORE")));
    infos.add({
      id: f.name,
      title: null,
      description: nonEmpty(f.description),
      severity,
      cvssScore: score,
      publishedAt: null,
      lastModifiedAt: null,
      primaryUrl: nonEmpty(f.uri),
    });
  }

  for (const f of doc.imageScanFindings.enhancedFindings ?? []) {
    const status = (f.status ?? "ACTIVE").toUpperCase();
    if (status === "CLOSED") continue;
    const details = f.packageVulnerabilityDetails;
    const id = nonEmpty(details?.vulnerabilityId) ?? nonEmpty(f.title) ?? nonEmpty(f.findingArn);
    if (id === null) continue; // nothing to name it by: not a package vulnerability
    const severity = ecrSeverity(f.severity);
    const packages = details?.vulnerablePackages?.length ? details.vulnerablePackages : [null];
    for (const p of packages) {
      const fixed = p ? fixedVersion(p.fixedInVersion) : null;
      const manager = nonEmpty(p?.packageManager);
      findings.push({
        kind: "vulnerability",
        vulnerabilityId: id,
        pkgName: nonEmpty(p?.name),
        installedVersion: p ? installedVersion(p) : null,
        fixedVersion: fixed,
        status: status === "SUPPRESSED" ? "suppressed" : fixed ? "fixed" : "affected",
        severity,
        target: nonEmpty(p?.filePath),
        class: manager === null ? null : manager.toUpperCase() === "OS" ? "os-pkgs" : "lang-pkgs",
        pkgType: manager?.toLowerCase() ?? null,
        purl: null,
      });
    }
    const cvss = details?.cvss ?? [];
    const v3 = cvss.filter((c) => (c.version ?? "").startsWith("3")).map((c) => positiveScore(c.baseScore) ?? 0);
    const any = cvss.map((c) => positiveScore(c.baseScore) ?? 0);
    infos.add({
      id,
      title: nonEmpty(f.title),
      description: nonEmpty(f.description),
      severity,
      cvssScore:
        positiveScore(Math.max(0, ...v3)) ??
        positiveScore(Math.max(0, ...any)) ??
        positiveScore(f.scoreDetails?.cvss?.score) ??
        positiveScore(f.score),
      publishedAt: parseDate(details?.vendorCreatedAt),
      lastModifiedAt: parseDate(details?.vendorUpdatedAt),
      primaryUrl: nonEmpty(details?.sourceUrl),
    });
  }

  const repository = `${options.registryHost}/${doc.repositoryName}`;
  return {
    format: "ecr",
    scanner: doc.imageScanFindings.enhancedFindings?.length ? "Amazon Inspector" : "Amazon ECR",
    scannerVersion: null,
    scannedAt: parseDate(doc.imageScanFindings.imageScanCompletedAt),
    artifactName: `${repository}@${doc.imageId.imageDigest}`,
    artifactType: "container_image",
    configDigest: null,
    osFamily: null,
    osName: null,
    repoDigests: [`${repository}@${doc.imageId.imageDigest}`],
    repoTags: (options.tags ?? []).map((t) => `${repository}:${t}`),
    findings,
    vulnerabilities: infos.list(),
  };
}
