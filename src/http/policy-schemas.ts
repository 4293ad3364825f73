/**
 * Request and response schemas of the policy, exception, decision-log and re-evaluation endpoints (the OpenAPI
 * document is generated from these, like src/http/schemas.ts).
 */
import { z } from "zod";
import { policyRulesSchema } from "../domain/policy";
import { VEX_JUSTIFICATIONS } from "../domain/exception";
import { parseRepositoryName } from "../domain/image-reference";
import { isValidRepositoryGlob } from "../domain/repository-glob";
import { digestSchema, reasonSchema, statusSchema } from "./schemas";

const CVE = /^CVE-\d{4}-\d{4,}$/i;
const GHSA = /^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/i;
/** Other advisories (RHSA-2023:1234, DLA-3482-1, GO-2022-0001), secret rule IDs (private-key), check IDs (DS002, AVD-DS-0002). */
const OTHER_ID = /^[A-Za-z0-9][A-Za-z0-9._:+\-/]{0,127}$/;

/**
 * The ID as Trivy writes it, so that an exception matches findings exactly: CVE IDs upper case; GHSA IDs with the
 * prefix upper case and the rest lower case (GHSA-xxxx-xxxx-xxxx, as GitHub and Trivy spell them); anything else as
 * given (secret rule and check IDs are case-sensitive). null when the shape is wrong.
 */
export function normalizeVulnerabilityId(raw: string): string | null {
  const id = raw.trim();
  if (/^CVE-/i.test(id)) return CVE.test(id) ? id.toUpperCase() : null;
  if (/^GHSA-/i.test(id)) return GHSA.test(id) ? `GHSA-${id.slice(5).toLowerCase()}` : null;
  return OTHER_ID.test(id) ? id : null;
}

/**
 * Docker-style normalisation of the glob's registry, like image references: `nginx` = `docker.io/library/nginx`,
 * `bitnami/*` = `docker.io/bitnami/*`. A first segment with a wildcard, a dot, a port or `localhost` is kept as is.
 */
function normalizeRepositoryGlob(raw: string): string {
  let glob = raw.trim();
  const segments = glob.split("/");
  const first = segments[0] ?? "";
  if (/^(index\.docker\.io|registry-1\.docker\.io)$/.test(first)) glob = ["docker.io", ...segments.slice(1)].join("/");
  else if (!/[*?.:]/.test(first) && first !== "localhost") glob = segments.length === 1 ? `docker.io/library/${glob}` : `docker.io/${glob}`;
  return glob;
}

const vulnerabilityIdSchema = z
  .string()
  .max(200)
  .transform((v, ctx) => {
    const id = normalizeVulnerabilityId(v);
    if (id === null) {
      ctx.addIssue({
        code: "custom",
        message: "must be a vulnerability ID (CVE-2024-12345, GHSA-xxxx-xxxx-xxxx), a secret rule ID (private-key) or a check ID (DS002)",
      });
      return z.NEVER;
    }
    return id;
  });

export const repositoryGlobSchema = z
  .string()
  .max(255)
  .transform((v) => normalizeRepositoryGlob(v))
  .refine(isValidRepositoryGlob, {
    message:
      "must be a lower-case repository glob such as docker.io/library/nginx, ghcr.io/acme/* or registry.example.com/** (* within one path segment, ** across segments, ? one character)",
  });

const isoInstant = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone, e.g. 2026-12-31T00:00:00Z" });

/** PUT /v1/policy and POST /v1/policy/dry-run take the rules; GET's answer ({version, rules, …}) is accepted too. */
export const policyRulesBodySchema = policyRulesSchema;
export const policyEnvelopeBodySchema = z
  .object({
    rules: policyRulesSchema,
    version: z.number().int().optional().describe("Ignored: a PUT always creates the next version."),
    created_at: z.string().optional().describe("Ignored."),
    created_by: z.string().nullable().optional().describe("Ignored: the token's name is recorded."),
  })
  .strict();

export const policyVersionResponseSchema = z.object({
  version: z.number().int(),
  rules: policyRulesSchema,
  created_at: z.string(),
  created_by: z.string().nullable(),
});

export const policyPutResponseSchema = policyVersionResponseSchema.extend({
  reevaluated: z.number().int().describe("Images re-evaluated under the new version (every stored image)."),
  changed: z.number().int().describe("Images whose answer (is_compliant or status) changed."),
});

export const policyVersionsResponseSchema = z.object({ items: z.array(policyVersionResponseSchema) });

const verdictSchema = z.object({ is_compliant: z.boolean(), status: statusSchema });

export const dryRunResponseSchema = z.object({
  compared_with_version: z.number().int(),
  rules: policyRulesSchema.describe("The candidate policy with defaults applied."),
  evaluated: z.number().int(),
  changed: z.number().int(),
  truncated: z.boolean().describe("true when more than 10,000 images would change; `changes` lists the first 10,000."),
  changes: z.array(
    z.object({
      image_digest: z.string(),
      repository: z.string().nullable(),
      from: verdictSchema,
      to: verdictSchema.extend({ reasons: z.array(reasonSchema) }),
    }),
  ),
});

export const vexJustificationSchema = z
  .enum(VEX_JUSTIFICATIONS, { message: `must be one of OpenVEX's justifications: ${VEX_JUSTIFICATIONS.join(", ")}` })
  .describe("OpenVEX justification of not_affected; exported with the exception (docs/vex.md).");

export const exceptionCreateBodySchema = z
  .object({
    vulnerability_id: vulnerabilityIdSchema,
    repository: repositoryGlobSchema.nullable().optional(),
    image_digest: digestSchema.nullable().optional(),
    reason: z.string().trim().min(1, "must say why the risk is accepted").max(2000),
    expires_at: isoInstant.nullable().optional(),
    requested_by: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(200)
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
      .optional()
      .describe("Who asked for the exception (free text, stored beside created_by, not verified)."),
    justification: vexJustificationSchema.nullable().optional(),
    created_by: z
      .unknown()
      .refine(() => false, "is recorded by the service: the name of the token that makes this request; put who asked for it in requested_by")
      .optional()
      .describe("Not accepted: created_by is the name of the token that grants the exception."),
  })
  .strict();

export const EXCEPTION_LIST_STATES = ["active", "expired", "revoked", "all"] as const;

export const exceptionListQuerySchema = z
  .object({
    state: z.enum(EXCEPTION_LIST_STATES).default("active"),
    vulnerability_id: vulnerabilityIdSchema.optional(),
    image_digest: digestSchema.optional(),
  })
  .strict();

/** A repository name (no tag, digest or wildcard), normalised the Docker way like image references. */
const repositoryNameSchema = z
  .string()
  .max(255)
  .transform((v, ctx) => {
    const repository = parseRepositoryName(v);
    if (repository === null) {
      ctx.addIssue({ code: "custom", message: "must be a repository name such as docker.io/library/nginx or ghcr.io/acme/app (no tag, digest or wildcard)" });
      return z.NEVER;
    }
    return repository;
  });

export const exceptionExportQuerySchema = z
  .object({
    format: z.enum(["trivyignore", "openvex"], { message: "must be trivyignore (Trivy's .trivyignore.yaml) or openvex (an OpenVEX 0.2.0 document)" }),
    image: z.string().min(1).max(1100).optional().describe("An image digest, a reference with a digest, or a tag a stored report names."),
    repository: repositoryNameSchema.optional().describe("A repository name, e.g. docker.io/library/nginx."),
  })
  .strict()
  .refine((q) => (q.image === undefined) !== (q.repository === undefined), { message: "give image or repository, not both and not neither", path: ["image"] });

export const exceptionIdSchema = z.object({ id: z.string().uuid("must be an exception ID (UUID)") });

export const exceptionResponseSchema = z.object({
  id: z.string().uuid(),
  vulnerability_id: z.string(),
  repository: z.string().nullable(),
  image_digest: z.string().nullable(),
  reason: z.string(),
  created_by: z.string().describe("The token (or dashboard sign-in) that granted it."),
  requested_by: z.string().nullable().describe("Who asked for it, as the granter wrote it; null when not given."),
  justification: z.enum(VEX_JUSTIFICATIONS).nullable().describe("OpenVEX justification; null when none was given."),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  revoked_by: z.string().nullable(),
  state: z.enum(["active", "expired", "revoked"]),
});

export const exceptionChangeResponseSchema = exceptionResponseSchema.extend({
  reevaluated: z.number().int().describe("Images re-evaluated: those whose current report has this ID, within the scope."),
  changed: z.number().int().describe("Images whose answer (is_compliant or status) changed."),
});

export const exceptionListResponseSchema = z.object({ items: z.array(exceptionResponseSchema) });

export const decisionsQuerySchema = z
  .object({
    image_digest: digestSchema.optional(),
    is_compliant: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
    namespace: z.string().max(253).optional(),
    since: isoInstant.optional().describe("Decisions at or after this instant."),
    until: isoInstant.optional().describe("Decisions before this instant."),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(100).optional().describe("next_cursor of the previous page."),
  })
  .strict();

const decisionSchema = z.object({
  id: z.string(),
  decided_at: z.string(),
  image_digest: z.string().nullable(),
  image_ref: z.string().nullable(),
  namespace: z.string().nullable(),
  is_compliant: z.boolean(),
  status: statusSchema,
  reason: z.string().nullable(),
  policy_version: z.number().int().nullable(),
  token_id: z.string().nullable(),
  token_name: z.string().nullable(),
});

export const decisionsResponseSchema = z.object({
  items: z.array(decisionSchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next (older) page; null on the last page."),
});

export const reevaluateResponseSchema = z.object({
  version: z.number().int(),
  reevaluated: z.number().int(),
  changed: z.number().int(),
});
