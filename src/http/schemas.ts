import { z } from "zod";
import { DIGEST_PATTERN } from "../domain/image-reference";
import { CLUSTER_NAME_PATTERN } from "../domain/workload";
import { reportFormatSchema } from "../domain/severity";
import { findingSummarySchema } from "../domain/summary";
import { STATUSES } from "../domain/verdict";
import type { ComplianceAnswer } from "../lookup/verdict-cache";

/** Query values arrive as a string or, when repeated, an array: read both as an array. */
const repeatable = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));

const shortText = (max: number) => z.string().max(max);

export const digestSchema = z.string().regex(DIGEST_PATTERN, "must be sha256: followed by 64 lowercase hex digits");

export const clusterNameSchema = z
  .string()
  .regex(CLUSTER_NAME_PATTERN, "must be a cluster name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters")
  .describe("Cluster name (lowercase letters, digits, '-', '.'; at most 63 characters)");

export const uploadQuerySchema = z.object({
  digest: repeatable.pipe(z.array(shortText(200)).max(50)),
  image: shortText(1024).optional(),
  format: reportFormatSchema.optional(),
  source: shortText(200).optional(),
  cluster: clusterNameSchema.optional().describe("For a Trivy Operator resource: the cluster its workload labels refer to (default: default)"),
});

export const reasonSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    severity: z.string().optional(),
    count: z.number().optional(),
    limit: z.number().optional(),
    ids: z.array(z.string()).optional(),
    total: z.number().optional(),
  })
  .passthrough();

export const statusSchema = z.enum(STATUSES);

export const uploadResponseSchema = z.object({
  report_id: z.string().uuid(),
  duplicate: z.boolean(),
  format: reportFormatSchema,
  images: z.array(
    z.object({
      image_digest: z.string(),
      repository: z.string().nullable(),
      tags: z.array(z.string()),
      is_compliant: z.boolean(),
      status: statusSchema,
      reasons: z.array(reasonSchema),
      current_report_id: z.string().nullable().describe("The image's current report; differs from report_id when a newer scan is already current."),
    }),
  ),
  newly_linked: z
    .array(z.string())
    .describe("Digests this upload linked the report to and judged: every digest of a new report; of a duplicate, the digests it did not name before (empty: nothing changed)."),
  summary: findingSummarySchema,
});

export const complianceQuerySchema = z.object({
  image: shortText(1024).optional(),
  namespace: shortText(253).optional(),
});

export const complianceByReferenceQuerySchema = z.object({
  image: shortText(1024),
  namespace: shortText(253).optional(),
});

export const complianceAnswerSchema = z.object({
  image_digest: z.string().nullable(),
  is_compliant: z.boolean(),
  status: statusSchema,
  reason: z.string(),
  reasons: z.array(reasonSchema),
  repository: z.string().nullable(),
  scanned_at: z.string().nullable(),
  evaluated_at: z.string(),
  policy_version: z.number().int(),
});

/** The schema describes the lookup's own answer type: a field added to one and not the other fails to compile. */
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : never) : never;
const _answerSchemaMatches: SameKeys<z.infer<typeof complianceAnswerSchema>, ComplianceAnswer> = true;
void _answerSchemaMatches;

export const batchCheckBodySchema = z
  .object({
    images: z.array(shortText(1024)).min(1).max(100),
    namespace: shortText(253).optional().nullable(),
  })
  .strict();

export const batchCheckResponseSchema = z.object({
  allowed: z.boolean(),
  results: z.array(
    z.object({
      image: z.string(),
      image_digest: z.string().nullable(),
      is_compliant: z.boolean(),
      status: statusSchema,
      reason: z.string(),
    }),
  ),
});
