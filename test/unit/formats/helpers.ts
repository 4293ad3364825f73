/** Counting helpers for the format tests: what a decoded report holds vs. what the raw document says. */
import type { DecodedReport } from "../../../src/domain/report";
import { SEVERITIES } from "../../../src/domain/severity";

export interface Counts {
  CRITICAL: number;
  HIGH: number;
  MEDIUM: number;
  LOW: number;
  UNKNOWN: number;
  secrets: number;
  failedMisconfigurations: number;
}

export const zeroCounts = (): Counts => ({
  CRITICAL: 0,
  HIGH: 0,
  MEDIUM: 0,
  LOW: 0,
  UNKNOWN: 0,
  secrets: 0,
  failedMisconfigurations: 0,
});

/** Trivy's own rule, restated independently of the decoder: known words upper-cased, the rest UNKNOWN. */
export function severityWord(value: unknown): keyof Counts {
  const upper = typeof value === "string" ? value.toUpperCase() : "";
  return (SEVERITIES as readonly string[]).includes(upper) ? (upper as keyof Counts) : "UNKNOWN";
}

/** Vulnerabilities by severity, secrets, FAIL misconfigurations, as decoded. */
export function countDecoded(report: DecodedReport): Counts {
  const counts = zeroCounts();
  for (const f of report.findings) {
    if (f.kind === "vulnerability") counts[f.severity] += 1;
    else if (f.kind === "secret") counts.secrets += 1;
    else if (f.status === null || f.status === "FAIL") counts.failedMisconfigurations += 1;
  }
  return counts;
}

/** The same counts read straight from a raw Trivy JSON (SchemaVersion 2) document. */
export function countRawTrivy(json: any): Counts {
  const counts = zeroCounts();
  for (const result of json.Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) counts[severityWord(v.Severity)] += 1;
    counts.secrets += (result.Secrets ?? []).length;
    counts.failedMisconfigurations += (result.Misconfigurations ?? []).filter((m: any) => m.Status === "FAIL").length;
  }
  return counts;
}


/** Runs `fn` and returns the error it throws (failing the test when it does not throw). */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}
