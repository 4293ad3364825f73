/**
 * Recognises which report format a parsed JSON document is, or refuses it with a code and a message that says
 * what was recognised and what the user should upload instead (HTTP 415 via the `unsupported` error kind).
 *
 * Detection looks only at top-level markers; the decoders validate the full shape afterwards.
 */
import { unsupported } from "../domain/errors";
import type { ReportFormat } from "../domain/severity";
import { isJsonObject } from "./shared";
import { isList, isOperatorApiVersion, isSupportedOperatorKind, isOperatorListKind } from "./trivy-operator";

const ACCEPTED =
  "Accepted formats: Trivy JSON (`trivy image --format json`, SchemaVersion 2), Trivy SARIF (`--format sarif`), " +
  "Trivy CycloneDX with vulnerabilities (`--format cyclonedx --scanners vuln`), and Trivy Operator " +
  "VulnerabilityReport/ExposedSecretReport resources or its webhook body.";

type Json = Record<string, unknown>;

const isObject = isJsonObject;

export function detectFormat(json: unknown): ReportFormat {
  if (Array.isArray(json)) return refuseArray(json);
  if (!isObject(json)) {
    throw unsupported("unknown_format", `The body is JSON but not an object (${describe(json)}). ${ACCEPTED}`);
  }

  if (json.bomFormat === "CycloneDX") return "cyclonedx";
  refuseOtherTrivyOutput(json);

  if (typeof json.spdxVersion === "string" || json.SPDXID === "SPDXRef-DOCUMENT") {
    throw unsupported(
      "spdx_not_supported",
      "This is an SPDX document: it lists packages but carries no vulnerability findings. Upload a Trivy scan " +
        "instead, e.g. `trivy image --format json <image>` (or `trivy sbom --format json <sbom>` to scan an SBOM).",
    );
  }

  if (isSarif(json)) return "sarif";

  // The webhook envelope: {verb, operatorObject}; the verb is the integration endpoint's business.
  if (isObject(json.operatorObject)) {
    checkOperatorResource(json.operatorObject);
    return "trivy-operator";
  }
  if (isOperatorApiVersion(json.apiVersion) || isList(json)) {
    checkOperatorResource(json);
    return "trivy-operator";
  }

  if ("ClusterName" in json && ("Resources" in json || "Vulnerabilities" in json || "Misconfigurations" in json)) {
    throw unsupported(
      "trivy_k8s_report",
      "This is a `trivy k8s` cluster report: it mixes many workloads and images, and findings are not tied to an " +
        "image digest. Scan each image with `trivy image --format json <image>` and upload those reports, or " +
        "install Trivy Operator and point its webhook (OPERATOR_WEBHOOK_BROADCAST_URL) at " +
        "/v1/integrations/trivy-operator.",
    );
  }

  if ("SchemaVersion" in json) {
    if (json.SchemaVersion === 2) return "trivy";
    throw unsupported(
      "unsupported_schema_version",
      `This looks like a Trivy JSON report with SchemaVersion ${JSON.stringify(json.SchemaVersion)}; only ` +
        "SchemaVersion 2 is supported. Re-run the scan with a Trivy release that writes SchemaVersion 2 " +
        "(`trivy image --format json`, Trivy ≥ 0.19).",
      { schemaVersion: json.SchemaVersion },
    );
  }
  if ("ArtifactName" in json && "Results" in json) {
    throw unsupported(
      "unsupported_schema_version",
      "This looks like a Trivy JSON report but has no SchemaVersion; only SchemaVersion 2 is supported. Upload " +
        "the report exactly as `trivy image --format json` (Trivy ≥ 0.19) writes it.",
    );
  }

  if (isObject(json.imageScanFindings) || ("imageScanFindings" in json && "repositoryName" in json)) return "ecr";

  throw unsupported("unknown_format", `The document is not a recognised scan report (${describe(json)}). ${ACCEPTED}`);
}

function isSarif(json: Json): boolean {
  const schema = typeof json.$schema === "string" ? json.$schema.toLowerCase() : "";
  return Array.isArray(json.runs) && (schema.includes("sarif") || json.version === "2.1.0");
}

/** Operator payloads: only vulnerability and exposed-secret reports describe an image; other kinds are refused. */
function checkOperatorResource(resource: Json): void {
  if (isList(resource)) {
    if (isOperatorApiVersion(resource.apiVersion) && isOperatorListKind(resource.kind)) return;
    for (const item of resource.items) {
      if (!isObject(item) || !isOperatorApiVersion(item.apiVersion) || !isSupportedOperatorKind(item.kind)) {
        throw unsupportedOperator(isObject(item) ? item.kind : undefined, isObject(item) ? item.apiVersion : undefined);
      }
    }
    return;
  }
  if (!isOperatorApiVersion(resource.apiVersion) || !isSupportedOperatorKind(resource.kind)) {
    throw unsupportedOperator(resource.kind, resource.apiVersion);
  }
}

function unsupportedOperator(kind: unknown, apiVersion: unknown) {
  return unsupported(
    "unsupported_operator_report",
    `This is a Kubernetes resource of kind ${JSON.stringify(kind ?? null)} (apiVersion ${JSON.stringify(apiVersion ?? null)}). ` +
      "Only Trivy Operator VulnerabilityReport and ExposedSecretReport resources (aquasecurity.github.io/v1alpha1), " +
      "their Lists, or the operator's webhook body are accepted; configuration, RBAC and compliance reports do " +
      "not describe an image.",
  );
}

/**
 * Trivy's other outputs, which name no image by digest and are built for another product: AWS Security Hub's ASFF
 * (contrib/asff.tpl, as an array or as batch-import-findings' {"Findings": [...]}), GitLab's security report
 * (contrib/gitlab.tpl) and Code Quality report (contrib/gitlab-codequality.tpl), and GitHub's dependency snapshot
 * (`--format github`). Each is refused saying what it is, not as an unknown document.
 */
const SCAN_INSTEAD =
  "Upload `trivy image --format json <image>`; to feed the other product from the same scan, write that JSON once " +
  "and make the other format from it with `trivy convert --format <format> <report.json>`.";

const isAsffFinding = (v: unknown): boolean =>
  isObject(v) && (v.SchemaVersion === "2018-10-08" || (typeof v.ProductArn === "string" && v.ProductArn.startsWith("arn:aws:securityhub:")));

const isCodeQualityIssue = (v: unknown): boolean =>
  isObject(v) && typeof v.check_name === "string" && typeof v.fingerprint === "string" && isObject(v.location);

function refuseOtherTrivyOutput(json: Json | unknown[]): void {
  const findings = Array.isArray(json) ? json : Array.isArray(json.Findings) ? json.Findings : [json];
  if (findings.length > 0 && isAsffFinding(findings[0])) {
    throw unsupported(
      "asff_not_supported",
      "This is AWS Security Hub findings in ASFF (Trivy's asff template): built for Security Hub, it names the image " +
        `by reference only, never by manifest digest. ${SCAN_INSTEAD}`,
    );
  }
  if (Array.isArray(json)) {
    if (json.length > 0 && isCodeQualityIssue(json[0])) {
      throw unsupported(
        "gitlab_codequality_not_supported",
        "This is a GitLab Code Quality report (Trivy's gitlab-codequality template): issues for merge requests, " +
          `without the image or its packages. ${SCAN_INSTEAD}`,
      );
    }
    return;
  }
  if (isObject(json.scan) && Array.isArray(json.vulnerabilities) && typeof json.version === "string") {
    const type = typeof json.scan.type === "string" ? ` (${json.scan.type})` : "";
    throw unsupported(
      "gitlab_report_not_supported",
      `This is a GitLab security report${type}, as Trivy's gitlab template writes it for GitLab's vulnerability ` +
        `report: it names the image by reference only, never by manifest digest. ${SCAN_INSTEAD}`,
    );
  }
  if (isObject(json.detector) && isObject(json.manifests)) {
    throw unsupported(
      "github_snapshot_not_supported",
      "This is a GitHub dependency snapshot (`trivy --format github`): it lists packages for GitHub's dependency " +
        `graph and carries no vulnerability findings. ${SCAN_INSTEAD}`,
    );
  }
}

function refuseArray(json: unknown[]): never {
  refuseOtherTrivyOutput(json);
  const looksLikeV1 =
    json.length > 0 && json.every((r) => isObject(r) && "Target" in r && ("Vulnerabilities" in r || "Type" in r));
  if (looksLikeV1) {
    throw unsupported(
      "trivy_schema_v1",
      "This is a Trivy JSON report in the old array format (SchemaVersion 1, written by Trivy < 0.19): it has no " +
        "image metadata or digests. Upgrade Trivy to ≥ 0.19 and re-run the scan with " +
        "`trivy image --format json <image>`.",
    );
  }
  throw unsupported("unknown_format", `The body is a JSON array, not a scan report. ${ACCEPTED}`);
}

function describe(json: unknown): string {
  if (Array.isArray(json)) return "an array";
  if (json === null) return "null";
  if (!isObject(json)) return `a ${typeof json}`;
  const keys = Object.keys(json).slice(0, 8);
  return keys.length === 0 ? "an empty object" : `an object with keys ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
}
