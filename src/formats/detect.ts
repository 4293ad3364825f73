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

function refuseArray(json: unknown[]): never {
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
