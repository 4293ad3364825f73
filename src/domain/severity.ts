import { z } from "zod";

/** Trivy's five severities, highest first. Every source is mapped onto these. */
export const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

/** Maps any casing or unknown value onto Trivy's five; unrecognised values are UNKNOWN, as Trivy does. */
export function normalizeSeverity(value: unknown): Severity {
  if (typeof value !== "string") return "UNKNOWN";
  const upper = value.trim().toUpperCase();
  return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : "UNKNOWN";
}

export const FINDING_KINDS = ["vulnerability", "secret", "misconfiguration"] as const;
export const findingKindSchema = z.enum(FINDING_KINDS);
export type FindingKind = z.infer<typeof findingKindSchema>;

const REPORT_FORMATS = ["trivy", "sarif", "cyclonedx", "trivy-operator", "ecr"] as const;
export const reportFormatSchema = z.enum(REPORT_FORMATS);
export type ReportFormat = z.infer<typeof reportFormatSchema>;
