import { z } from "zod";
import { isCountable, isFixable, type Finding } from "./report";

const count = z.number().int().min(0);

export const findingSummarySchema = z
  .object({
    critical: count,
    high: count,
    medium: count,
    low: count,
    unknown: count,
    fixable: count.describe("Countable vulnerabilities with a fixed version."),
    secrets: count,
    misconfigurations: count.describe("Failed misconfiguration checks."),
  })
  .describe("Finding counts as Trivy's summary gives them: vulnerabilities per severity, each package × vulnerability once, not_affected excluded.");

export type FindingSummary = z.infer<typeof findingSummarySchema>;

export type SummarizableFinding = Pick<Finding, "kind" | "severity" | "status" | "fixedVersion">;

function emptySummary(): FindingSummary {
  return { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, secrets: 0, misconfigurations: 0 };
}

export function summarizeFindings(findings: readonly SummarizableFinding[]): FindingSummary {
  const s = emptySummary();
  for (const f of findings) {
    if (f.kind === "secret") s.secrets++;
    else if (f.kind === "misconfiguration") {
      if (isCountable(f)) s.misconfigurations++;
    } else if (isCountable(f)) {
      switch (f.severity) {
        case "CRITICAL": s.critical++; break;
        case "HIGH": s.high++; break;
        case "MEDIUM": s.medium++; break;
        case "LOW": s.low++; break;
        default: s.unknown++;
      }
      if (isFixable(f)) s.fixable++;
    }
  }
  return s;
}
