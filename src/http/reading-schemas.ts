import { z } from "zod";
import { severitySchema, findingKindSchema } from "../domain/severity";
import { STATUSES } from "../domain/verdict";

const limit = z.coerce.number().int().min(1).max(500).default(50);
const cursor = z.string().max(200).optional();
const booleanText = z.enum(["true", "false"]).transform((v) => v === "true");

export const listImagesQuerySchema = z
  .object({
    status: z.enum(STATUSES).optional(),
    repository: z.string().min(1).max(512).optional().describe("Exact normalised repository, e.g. docker.io/library/nginx."),
    q: z.string().min(1).max(200).optional().describe("Search: a digest prefix or a tag."),
    limit,
    cursor: cursor.describe("Opaque cursor from next_cursor of the previous page."),
  })
  .strict();

export const listFindingsQuerySchema = z
  .object({
    severity: z.union([severitySchema, z.array(severitySchema)]).optional(),
    kind: findingKindSchema.optional(),
    fixable: booleanText.optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(1000),
    cursor: cursor,
  })
  .strict();

export const vulnerabilityIdSchema = z.string().min(1).max(200).regex(/^[\w.:/+-]+$/, "not a vulnerability ID");

export const vulnerabilityQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(1000).describe("Images per page."),
    cursor: cursor.describe("Opaque cursor from next_cursor of the previous page."),
  })
  .strict();
