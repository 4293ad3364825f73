/**
 * How many findings a parsed report holds, counted on the raw JSON before it is validated and decoded: validation
 * copies every entry, so a report over MAX_REPORT_FINDINGS is refused before that work (and memory) is spent. The
 * count is of the entries the decoder turns into findings (an upper bound: entries that are not findings, such as
 * SARIF license results, are counted too); the decoded count is checked again afterwards.
 */
import { DomainError } from "../domain/errors";
import type { ReportFormat } from "../domain/severity";
import { isJsonObject } from "./shared";
import { unwrapOperatorPayload } from "./trivy-operator";

const lengthOf = (v: unknown): number => (Array.isArray(v) ? v.length : 0);
const objects = (v: unknown): Array<Record<string, unknown>> => (Array.isArray(v) ? v.filter(isJsonObject) : []);

export function rawFindingCount(format: ReportFormat, json: unknown): number {
  if (!isJsonObject(json)) return 0;
  switch (format) {
    case "trivy":
      return objects(json.Results).reduce((n, r) => n + lengthOf(r.Vulnerabilities) + lengthOf(r.Secrets) + lengthOf(r.Misconfigurations), 0);
    case "sarif":
      return objects(json.runs).reduce((n, run) => n + lengthOf(run.results), 0);
    case "cyclonedx":
      return objects(json.vulnerabilities).reduce((n, v) => n + Math.max(1, lengthOf(v.affects)), 0);
    case "trivy-operator": {
      let resources: unknown[];
      try {
        resources = unwrapOperatorPayload(json).resources;
      } catch {
        return 0; // the decoder says what is wrong with it
      }
      return objects(resources).reduce((n, r) => {
        const report = isJsonObject(r.report) ? r.report : {};
        return n + lengthOf(report.vulnerabilities) + lengthOf(report.secrets);
      }, 0);
    }
    case "ecr":
      return 0;
  }
}

/** 413 `too_many_findings`, naming MAX_REPORT_FINDINGS: nothing of the report is stored. */
export function tooManyFindings(count: number, limit: number, atLeast = false): DomainError {
  return new DomainError(
    "too_large",
    "too_many_findings",
    `The report holds ${atLeast ? "at least " : ""}${count} findings; this service accepts at most ${limit} per report (MAX_REPORT_FINDINGS). ` +
      "Nothing was stored. Split the scan (for example one report per image, or per target with `trivy image --scanners`), " +
      "or raise MAX_REPORT_FINDINGS if the replicas have the memory for it (docs/operations.md).",
    undefined,
    { limit_findings: limit, findings: count },
  );
}
