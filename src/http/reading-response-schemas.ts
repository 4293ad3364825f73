import { z } from "zod";
import { workloadSchema } from "./runtime-schemas";
import { findingSummarySchema } from "../domain/summary";
import { reasonSchema, statusSchema } from "./schemas";

/**
 * The answers of the reading endpoints (images, findings, reports, vulnerabilities), for /openapi.json.
 * test/http/openapi.test.ts parses real answers with them, so they cannot drift from what the routes send.
 */
const instant = z.string().describe("ISO 8601 date-time");

const imageScanSchema = z
  .object({
    image_digest: z.string(),
    repository: z.string().nullable(),
    tags: z.array(z.string()),
    is_compliant: z.boolean(),
    status: statusSchema,
    reasons: z.array(reasonSchema),
    latest_report_id: z.string().nullable(),
    scanned_at: instant.nullable(),
    policy_version: z.number().int().nullable(),
    evaluated_at: instant.nullable(),
    valid_until: instant.nullable().describe("The verdict stops holding then (an exception expires, the scan goes stale)"),
    first_seen_at: instant.nullable(),
    summary: findingSummarySchema,
  })
  .meta({ id: "ImageScan", description: "An image digest and its current verdict (a row of image_scans)" });

export const imageListResponseSchema = z.object({
  items: z.array(imageScanSchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next page; null on the last page"),
});

export const imageDetailResponseSchema = imageScanSchema.extend({
  reports: z
    .array(
      z.object({
        id: z.string(),
        scanned_at: instant.nullable(),
        received_at: instant,
        format: z.string(),
        scanner: z.string().nullable(),
        scanner_version: z.string().nullable(),
        source: z.string().nullable(),
        finding_count: z.number().int(),
        deleted_at: instant.nullable(),
      }),
    )
    .describe("The reports that named this digest, newest scan first (at most 50)"),
});

const findingSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["vulnerability", "secret", "misconfiguration"]),
    vulnerability_id: z.string(),
    pkg_name: z.string().nullable(),
    installed_version: z.string().nullable(),
    fixed_version: z.string().nullable(),
    status: z.string().nullable(),
    severity: z.string(),
    target: z.string().nullable(),
    class: z.string().nullable(),
    pkg_type: z.string().nullable(),
    purl: z.string().nullable(),
    title: z.string().nullable(),
    excepted: z.boolean().describe("An exception in force covers this finding"),
  })
  .catchall(z.unknown())
  .meta({ id: "Finding" });

export const findingsPageSchema = z.object({
  image_digest: z.string(),
  report_id: z.string().nullable(),
  items: z.array(findingSchema),
  next_cursor: z.string().nullable(),
});

export const reportResponseSchema = z.object({
  id: z.string(),
  received_at: instant,
  scanned_at: instant.nullable(),
  format: z.string(),
  scanner: z.string().nullable(),
  scanner_version: z.string().nullable(),
  artifact_name: z.string().nullable(),
  artifact_type: z.string().nullable(),
  config_digest: z.string().nullable(),
  os_family: z.string().nullable(),
  os_name: z.string().nullable(),
  report_sha256: z.string(),
  source: z.string().nullable(),
  uploaded_by: z.string().nullable(),
  finding_count: z.number().int(),
  deleted_at: instant.nullable(),
  pruned_at: instant.nullable().describe("When history retention deleted this report's findings and raw copy (RETENTION_SUPERSEDED_DAYS); null while kept"),
  images: z.array(z.object({ image_digest: z.string(), repository: z.string().nullable(), tags: z.array(z.string()) })),
  findings_by_kind_and_severity: z.array(z.object({ kind: z.string(), severity: z.string(), count: z.number().int() })),
  raw_url: z.string(),
});

export const vulnerabilityResponseSchema = z
  .object({
    id: z.string(),
    title: z.string().nullable().optional(),
    description: z.string().nullable().optional(),
    severity: z.string().nullable().optional(),
    cvss_score: z.number().nullable().optional(),
    published_at: instant.nullable().optional(),
    last_modified_at: instant.nullable().optional(),
    primary_url: z.string().nullable().optional(),
    images: z.array(
      z.object({
        image_digest: z.string(),
        repository: z.string().nullable(),
        tags: z.array(z.string()),
        is_compliant: z.boolean(),
        status: statusSchema,
        packages: z.array(z.string()).describe("Packages (or targets) that have it"),
      }),
    ),
    image_count: z.number().int().describe("Every image that has it now, on all pages"),
    next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next page of images; null on the last page."),
    running: z.array(workloadSchema).describe("Workload containers running now whose image has it (every page of images; at most 1,000)"),
    running_count: z.number().int().describe("How many workload containers running now have it"),
  })
  .describe("The vulnerability's stored metadata (absent fields: no report gave them) and every image whose current report has it");
