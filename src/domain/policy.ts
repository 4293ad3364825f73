import { z } from "zod";
import { SEVERITIES, severitySchema, type Severity } from "./severity";

const countLimit = z.number().int().min(0).max(1_000_000);

/**
 * The compliance policy. `.strict()` so an unknown rule is refused; every rule has its default, so a PUT may omit
 * any of them. Defaults match the deployment guide: no image with a CRITICAL vulnerability may run.
 */
export const policyRulesSchema = z
  .object({
    max_severity_counts: z
      .partialRecord(severitySchema, countLimit)
      .default({ CRITICAL: 0 })
      .describe("More findings of a severity than this makes the image non-compliant; an absent severity has no limit."),
    ignore_unfixed: z.boolean().default(false).describe("When true, findings without a fixed version do not count."),
    block_secrets: z.boolean().default(true).describe("An image with a secret finding is non-compliant."),
    block_misconfiguration_severities: z
      .array(severitySchema)
      .max(SEVERITIES.length)
      .default([])
      .describe("Misconfiguration severities that block, e.g. [\"CRITICAL\",\"HIGH\"]."),
    max_scan_age_days: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .nullable()
      .default(null)
      .describe("A scan older than this is stale, and a stale image is non-compliant. null = no limit."),
    unscanned: z.enum(["deny", "allow"]).default("deny").describe("Verdict for an image with no report."),
  })
  .strict();

export type PolicyRules = z.infer<typeof policyRulesSchema>;

export interface PolicyVersion {
  version: number;
  rules: PolicyRules;
  createdAt: Date;
  createdBy: string | null;
}

export type SeverityCounts = Record<Severity, number>;
