/**
 * The input-format layer's entry point: any supported external report → the one internal `DecodedReport`.
 */
import { DomainError, invalid, unsupported } from "../domain/errors";
import type { DecodedReport } from "../domain/report";
import type { ReportFormat } from "../domain/severity";
import { decodeCycloneDxReport } from "./cyclonedx";
import { detectFormat } from "./detect";
import { rawFindingCount, tooManyFindings } from "./finding-count";
import { decodeSarifReport } from "./sarif";
import { decodeTrivyReport } from "./trivy";
import { decodeTrivyOperatorReport } from "./trivy-operator";

export { decodeOperatorResource, unwrapOperatorPayload } from "./trivy-operator";

const FORMAT_NAMES: Record<ReportFormat, string> = {
  trivy: "a Trivy JSON report",
  sarif: "a SARIF report",
  cyclonedx: "a CycloneDX BOM",
  "trivy-operator": "a Trivy Operator resource",
  ecr: "an Amazon ECR scan-findings response",
};

/**
 * Detects the format (or checks the explicitly requested one) and decodes.
 *
 * - An explicit format that contradicts what the document is → `invalid("format_mismatch")` (422): the body is a
 *   fine report, the request is wrong.
 * - A recognised-but-refused document (SchemaVersion 1, `trivy k8s`, SPDX, ...) keeps its own refusal even when a
 *   format was given, because that message says what to do.
 * - An unrecognisable document with an explicit format is decoded as that format, so the user gets shape errors
 *   with paths instead of a vague "unknown format".
 */
export function decodeReport(json: unknown, options: { format?: ReportFormat; maxFindings?: number } = {}): DecodedReport {
  const report = decodeDetected(json, options);
  if (options.maxFindings !== undefined && report.findings.length > options.maxFindings) throw tooManyFindings(report.findings.length, options.maxFindings);
  return report;
}

function decodeDetected(json: unknown, options: { format?: ReportFormat; maxFindings?: number }): DecodedReport {
  const requested = options.format;
  if (requested === "ecr") throw ecrRefusal();

  let detected: ReportFormat | null;
  try {
    detected = detectFormat(json);
  } catch (err) {
    if (requested && err instanceof DomainError && err.code === "unknown_format") detected = null;
    else throw err;
  }

  if (requested && detected && requested !== detected) {
    throw invalid(
      "format_mismatch",
      `The report was sent with format=${requested} but is ${FORMAT_NAMES[detected]}. Send it with ` +
        `format=${detected}, or leave out the format parameter to have it detected.`,
      [{ path: "format", message: `expected ${detected}, got ${requested}` }],
    );
  }

  const format = (requested ?? detected)!;
  // MAX_REPORT_FINDINGS is checked before validation, which copies every entry of the report.
  if (options.maxFindings !== undefined) {
    const count = rawFindingCount(format, json);
    if (count > options.maxFindings) throw tooManyFindings(count, options.maxFindings);
  }
  switch (format) {
    case "trivy":
      return decodeTrivyReport(json);
    case "sarif":
      return decodeSarifReport(json);
    case "cyclonedx":
      return decodeCycloneDxReport(json);
    case "trivy-operator":
      return decodeTrivyOperatorReport(json);
    case "ecr":
      throw ecrRefusal();
  }
}

function ecrRefusal() {
  return unsupported(
    "ecr_not_uploadable",
    "Amazon ECR findings are not uploaded as a report: import them with POST /v1/integrations/ecr/import " +
      "(or `scan-registry ecr import`), which reads them from ECR for the image digest.",
  );
}
