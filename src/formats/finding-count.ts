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

/**
 * Keys that appear once per vulnerability finding and nowhere else in their format: Trivy JSON's `"VulnerabilityID"`
 * and Trivy Operator's `"vulnerabilityID"`. Inside a JSON string a quote is escaped (`\"`), so these bytes can only be
 * a key (or a string value equal to it): each key's count is a lower bound of the findings a document holds. Both end
 * in the bytes below, so one scan finds both and tells them apart by the two bytes before.
 */
const KEY_TAIL = Buffer.from('ulnerabilityID"');
const QUOTE = 0x22;
const UPPER_V = 0x56;
const LOWER_V = 0x76;

/**
 * Refuses a body that certainly holds more than `limit` findings before it is parsed: one scan of the bytes for the
 * keys above, stopping once either key is counted limit + 1 times. 1,000,000 tiny findings were read, parsed and
 * counted (seconds, and the parse's memory) only to be refused; this answers their 413 at once. The count after
 * parsing still decides every other case. (One pass instead of one per key: each pass over a 27 MB report took
 * ~30 ms of the upload.)
 */
export function refuseObviouslyTooManyFindings(bytes: Buffer, limit: number): void {
  let upper = 0;
  let lower = 0;
  for (let at = bytes.indexOf(KEY_TAIL, 2); at !== -1; at = bytes.indexOf(KEY_TAIL, at + KEY_TAIL.length)) {
    if (bytes[at - 2] !== QUOTE) continue;
    const first = bytes[at - 1];
    if (first === UPPER_V) upper++;
    else if (first === LOWER_V) lower++;
    else continue;
    if (upper > limit || lower > limit) throw tooManyFindings(Math.max(upper, lower), limit, true);
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
