/**
 * POST /v1/vex: an OpenVEX 0.2.0 document (https://github.com/openvex/spec), validated as go-vex's Validate does
 * (a status from the four, not_affected with a justification or an impact statement) and the fields the import uses;
 * fields it does not use are allowed (documents carry more), their shape unchecked. docs/vex.md says what becomes of it.
 */
import { z } from "zod";
import { normalizeVulnerabilityId, vexJustificationSchema } from "./policy-schemas";
import { exceptionResponseSchema } from "./policy-schemas";

export const VEX_BODY_LIMIT = 2 * 1024 * 1024;
const VEX_MAX_STATEMENTS = 5000;

const instant = z.iso.datetime({ offset: true, message: "must be an RFC 3339 date-time with a time zone" });
const text = (max: number) => z.string().max(max);

const vulnerabilityId = z
  .string()
  .max(200)
  .refine((v) => normalizeVulnerabilityId(v) !== null, "must be a vulnerability ID (CVE-2024-12345, GHSA-xxxx-xxxx-xxxx, …)");

const component = z.looseObject({
  "@id": text(2048).optional(),
  identifiers: z.record(z.string().max(64), text(2048)).optional(),
  hashes: z.record(z.string().max(64), text(512)).optional(),
});

const statement = z
  .looseObject({
    "@id": text(2048).optional(),
    vulnerability: z.looseObject({
      "@id": text(2048).optional(),
      name: vulnerabilityId,
      aliases: z.array(vulnerabilityId).max(50).optional(),
      description: text(10_000).optional(),
    }),
    products: z.array(component.extend({ subcomponents: z.array(component).max(1000).optional() })).max(1000).optional(),
    status: z.enum(["not_affected", "affected", "fixed", "under_investigation"], { message: "must be not_affected, affected, fixed or under_investigation" }),
    justification: vexJustificationSchema.optional(),
    impact_statement: text(2000).optional(),
    status_notes: text(2000).optional(),
    action_statement: text(10_000).optional(),
    timestamp: instant.optional(),
    last_updated: instant.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.status === "not_affected" && !s.justification && !s.impact_statement?.trim())
      ctx.addIssue({ code: "custom", path: ["justification"], message: "a not_affected statement needs a justification or an impact_statement (OpenVEX)" });
    if (s.status !== "not_affected" && (s.justification || s.impact_statement))
      ctx.addIssue({ code: "custom", path: ["justification"], message: `justification and impact_statement belong to not_affected statements, not ${s.status} (OpenVEX)` });
  });

export const vexDocumentSchema = z.looseObject({
  "@context": z.string().regex(/^https:\/\/openvex\.dev\/ns(\/v0\.2\.0)?$/, "must be https://openvex.dev/ns/v0.2.0 (an OpenVEX 0.2.0 document)"),
  "@id": text(2048).min(1, "must identify the document"),
  author: z
    .string()
    .trim()
    .min(1, "must name the author")
    .max(200)
    .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters"),
  role: text(200).optional(),
  timestamp: instant,
  last_updated: instant.optional(),
  version: z.number().int().min(1),
  tooling: text(500).optional(),
  statements: z.array(statement).min(1, "must hold at least one statement").max(VEX_MAX_STATEMENTS, `at most ${VEX_MAX_STATEMENTS} statements per document`),
});

export const vexImportQuerySchema = z
  .object({
    expires_at: z.iso
      .datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone" })
      .optional()
      .describe("When the exceptions it makes stop applying (OpenVEX has no expiry); none = never."),
  })
  .strict();

const placeSchema = z.object({ path: z.string(), vulnerability_id: z.string() });

export const vexImportResponseSchema = z.object({
  document: z.string().describe("The document's @id."),
  created: z.array(exceptionResponseSchema).describe("The exceptions made, one per not_affected statement, ID and placed product."),
  existing: z.array(placeSchema.extend({ exception_id: z.string() })).describe("Statements an exception in force with the same ID and scope already covers."),
  unplaced: z.array(placeSchema.extend({ product: z.string().nullable(), reason: z.string() })).describe("not_affected statements whose product names no image, repository or everywhere: nothing was made for them."),
  skipped: z.array(placeSchema.extend({ status: z.string(), reason: z.string() })).describe("Statements that make no exception: not not_affected, or superseded by a later one."),
  reevaluated: z.number().int(),
  changed: z.number().int(),
});
