import type { FindingKind, ReportFormat, Severity } from "./severity";
import type { WorkloadContainerRef } from "./workload";

/**
 * One finding, whatever the source format. `vulnerabilityId` is the CVE/GHSA ID for vulnerabilities,
 * the rule ID for secrets (e.g. `private-key`) and the check ID for misconfigurations (e.g. `DS002`).
 * `status` is Trivy's vulnerability status (`fixed`, `affected`, `will_not_fix`, `not_affected`, ...) or the
 * misconfiguration result (`FAIL`, `PASS`, `EXCEPTION`); null when the source has none.
 */
export interface Finding {
  kind: FindingKind;
  vulnerabilityId: string;
  pkgName: string | null;
  installedVersion: string | null;
  fixedVersion: string | null;
  status: string | null;
  severity: Severity;
  target: string | null;
  class: string | null;
  pkgType: string | null;
  purl: string | null;
}

/** Shared metadata of a vulnerability (or secret rule / misconfiguration check), stored once per ID. */
export interface VulnerabilityInfo {
  id: string;
  title: string | null;
  description: string | null;
  severity: Severity | null;
  cvssScore: number | null;
  publishedAt: Date | null;
  lastModifiedAt: Date | null;
  primaryUrl: string | null;
}

/** The one internal model every input format is decoded into. */
export interface DecodedReport {
  format: ReportFormat;
  scanner: string;
  scannerVersion: string | null;
  /** When the scan ran (Trivy's CreatedAt); null when the source does not say, then the receipt time is used. */
  scannedAt: Date | null;
  artifactName: string | null;
  artifactType: string | null;
  /** The image config ID (Trivy's Metadata.ImageID): stored, never used as the key. */
  configDigest: string | null;
  osFamily: string | null;
  osName: string | null;
  /** Image references that carry a manifest digest, e.g. `repo@sha256:…` (Trivy's RepoDigests). */
  repoDigests: string[];
  /** Image references with tags, e.g. `repo:tag` (Trivy's RepoTags, or ArtifactName for images). */
  repoTags: string[];
  findings: Finding[];
  vulnerabilities: VulnerabilityInfo[];
  /** Where the image runs, when the report says (Trivy Operator's workload labels); the cluster is the uploader's. */
  runsIn?: WorkloadContainerRef[];
}

/** A finding counts towards the policy unless its status says the package is not affected. */
export function isCountable(f: Pick<Finding, "kind" | "status">): boolean {
  if (f.kind === "misconfiguration") return f.status === null || f.status.toUpperCase() === "FAIL";
  return f.status?.toLowerCase() !== "not_affected";
}

export function isFixable(f: Pick<Finding, "kind" | "fixedVersion">): boolean {
  return f.kind === "vulnerability" && !!f.fixedVersion && f.fixedVersion.trim() !== "";
}
