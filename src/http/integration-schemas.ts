/**
 * Request and response schemas of the integration endpoints (Amazon ECR, Trivy Operator); the OpenAPI document is
 * generated from these, like src/http/schemas.ts.
 */
import { z } from "zod";
import { digestSchema, uploadResponseSchema } from "./schemas";

/** ECR's own patterns for repository names, tags and registry IDs. */
const repositoryName = z
  .string()
  .min(2)
  .max(256)
  .regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, "an ECR repository name such as team/app");
const imageTag = z.string().min(1).max(300);
const registryId = z.string().regex(/^\d{12}$/, "a 12-digit AWS account ID");

export const ecrImportBodySchema = z
  .object({
    repository: repositoryName.describe("Repository name in ECR (without the registry host)"),
    image_digest: digestSchema.optional(),
    image_tag: imageTag.optional(),
    registry_id: registryId.optional().describe("AWS account of the registry; default: the credentials' own"),
  })
  .refine((b) => (b.image_digest === undefined) !== (b.image_tag === undefined), {
    message: "give exactly one of image_digest and image_tag",
    path: ["image_digest"],
  });

export const passTagSchema = z
  .object({
    image_digest: z.string(),
    tag: z.string(),
    applied: z.boolean().describe("true also when the tag was already on this digest"),
    reason: z.string().optional().describe("Why the tag was not applied"),
  })
  .describe("ECR_PASS_TAG outcome; present when ECR_PASS_TAG is set and the image is on an ECR host");

export const ecrImportResponseSchema = uploadResponseSchema.extend({
  ecr_scan_status: z.string().describe("ECR's scan status: COMPLETE (basic) or ACTIVE (enhanced)"),
  pass_tag: passTagSchema.nullable(),
});

export const ecrEventsResponseSchema = z.object({
  results: z.array(ecrImportResponseSchema.extend({ event: z.string() })),
});

export const ecrImagesQuerySchema = z.object({
  repository: repositoryName,
  registry_id: registryId.optional(),
});

export const ecrImagesResponseSchema = z.object({
  repository: z.string(),
  images: z.array(
    z.object({
      image_digest: z.string(),
      tags: z.array(z.string()),
      pushed_at: z.string().nullable(),
      scan_status: z.string().nullable().describe("ECR's scan status of the image, when it has one"),
    }),
  ),
});

export const operatorDeleteResponseSchema = z.object({
  verb: z.literal("delete"),
  deleted: z.array(z.object({ image_digest: z.string(), resource: z.string(), reports_marked: z.number().int() })),
});

export const operatorBatchResponseSchema = z.object({ verb: z.string(), results: z.array(uploadResponseSchema) });
