/**
 * Request and response schemas of the incident endpoints (the OpenAPI document is generated from these). The
 * dashboard's incident forms validate with the same schemas (src/ui/incident-forms.ts).
 */
import { z } from "zod";
import { parseImageReference } from "../domain/image-reference";
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES, NOTE_KINDS, type LinkTarget } from "../domain/incident";
import { normalizeVulnerabilityId } from "./policy-schemas";
import { digestSchema } from "./schemas";

/** Markdown fields: notes, summary, root cause, remediation. 64 KiB is a long document and a small request. */
export const MARKDOWN_MAX = 65_536;

const markdown = z.string().max(MARKDOWN_MAX, `must be at most ${MARKDOWN_MAX} characters`);
const optionalMarkdown = markdown.nullable().optional().transform((v) => (v === undefined ? undefined : v === null || v.trim() === "" ? null : v));
const title = z.string().trim().min(1, "must not be empty").max(200);
const owner = z
  .string()
  .trim()
  .max(200)
  .nullable()
  .optional()
  .transform((v) => (v === undefined ? undefined : v === null || v === "" ? null : v));

const incidentStatusSchema = z.enum(INCIDENT_STATUSES);
const incidentSeveritySchema = z.enum(INCIDENT_SEVERITIES);

const vulnerabilityId = z
  .string()
  .max(200)
  .transform((v, ctx) => {
    const id = normalizeVulnerabilityId(v);
    if (id === null) {
      ctx.addIssue({ code: "custom", message: "must be a vulnerability ID (CVE-2024-12345, GHSA-xxxx-xxxx-xxxx), a secret rule ID or a check ID" });
      return z.NEVER;
    }
    return id;
  });

/** A repository as image_scans stores it: `nginx` is docker.io/library/nginx; no tag or digest. */
const repository = z
  .string()
  .max(512)
  .transform((v, ctx) => {
    const text = v.trim();
    const explicitTagOrDigest = text.includes("@") || (text.split("/").pop() ?? "").includes(":");
    const ref = explicitTagOrDigest ? null : parseImageReference(text);
    if (!ref) {
      ctx.addIssue({ code: "custom", message: "must be a repository without tag or digest, e.g. ghcr.io/acme/api or nginx" });
      return z.NEVER;
    }
    return ref.repository;
  });

const k8sName = z.string().trim().min(1).max(253);
const workload = z
  .object({
    cluster: k8sName,
    namespace: z.string().trim().min(1).max(63),
    kind: z.string().trim().min(1).max(63).regex(/^[A-Za-z][A-Za-z0-9]*$/, "must be a Kubernetes kind, e.g. Deployment"),
    name: k8sName,
  })
  .strict();

const numericId = z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9]\d{0,17}$/, "must be a positive integer")]);

const TARGET_KEYS = ["vulnerability_id", "image_digest", "repository", "workload", "violation_id", "exception_id"] as const;

/** One link target, exactly one key: `{vulnerability_id}`, `{image_digest}`, `{repository}`, `{workload: {…}}`, `{violation_id}` or `{exception_id}`. */
export const linkTargetBodySchema = z
  .object({
    vulnerability_id: vulnerabilityId.optional(),
    image_digest: digestSchema.optional(),
    repository: repository.optional(),
    workload: workload.optional().describe("A workload: cluster, namespace, kind (Deployment, CronJob, Pod, …) and name."),
    violation_id: numericId.optional().describe("A runtime violation (GET /v1/violations)."),
    exception_id: z.string().uuid("must be an exception ID (UUID)").optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const given = TARGET_KEYS.filter((k) => v[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({ code: "custom", message: `give exactly one of ${TARGET_KEYS.join(", ")}${given.length ? ` (got ${given.join(", ")})` : ""}` });
  })
  .transform((v): LinkTarget => {
    if (v.vulnerability_id !== undefined) return { type: "vulnerability", vulnerabilityId: v.vulnerability_id };
    if (v.image_digest !== undefined) return { type: "image", imageDigest: v.image_digest };
    if (v.repository !== undefined) return { type: "repository", repository: v.repository };
    if (v.workload !== undefined) return { type: "workload", workload: v.workload };
    if (v.violation_id !== undefined) return { type: "violation", violationId: String(v.violation_id) };
    return { type: "exception", exceptionId: v.exception_id!.toLowerCase() };
  });

/** DELETE …/links: the same target as it was linked, or the link's `link_id`. */
export const linkRemoveBodySchema = z.union([
  z.object({ link_id: numericId.describe("The link's id, from GET /v1/incidents/{id}.") }).strict().transform((v) => ({ linkId: Number(v.link_id) })),
  linkTargetBodySchema.transform((target) => ({ target })),
]);

export const incidentCreateBodySchema = z
  .object({
    title,
    severity: incidentSeveritySchema,
    status: incidentStatusSchema.optional().describe("Default open."),
    owner,
    summary: optionalMarkdown,
    root_cause: optionalMarkdown,
    remediation: optionalMarkdown,
    links: z.array(linkTargetBodySchema).max(200).optional().describe("Items it concerns, linked at once."),
  })
  .strict();

export const incidentPatchBodySchema = z
  .object({
    title: title.optional(),
    status: incidentStatusSchema.optional(),
    severity: incidentSeveritySchema.optional(),
    owner,
    summary: optionalMarkdown,
    root_cause: optionalMarkdown,
    remediation: optionalMarkdown,
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), { message: "give at least one field to change" });

export const noteBodySchema = z
  .object({ body: markdown.refine((v) => v.trim() !== "", "must not be empty").describe("Markdown.") })
  .strict();

const repeatable = <T extends z.ZodType>(item: T) =>
  z
    .union([item, z.array(item).max(10)])
    .optional()
    .transform((v) => (v === undefined ? undefined : ((Array.isArray(v) ? v : [v]) as Array<z.infer<T>>)));

export const incidentListQuerySchema = z
  .object({
    status: repeatable(incidentStatusSchema).describe("Repeatable: ?status=open&status=investigating."),
    severity: repeatable(incidentSeveritySchema).describe("Repeatable."),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(/^[1-9]\d{0,17}$/, "is not a cursor this API returned").optional().describe("next_cursor of the previous page."),
  })
  .strict();

export const incidentIdSchema = z.object({ id: z.string().regex(/^[1-9]\d{0,17}$/, "must be an incident number").transform(Number) });

// ---- responses

const incidentSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  status: incidentStatusSchema,
  severity: incidentSeveritySchema,
  owner: z.string().nullable(),
  summary: z.string().nullable().describe("Markdown."),
  root_cause: z.string().nullable().describe("Markdown."),
  remediation: z.string().nullable().describe("Markdown."),
  opened_at: z.string(),
  resolved_at: z.string().nullable(),
  updated_at: z.string(),
  created_by: z.string(),
});

const incidentListItemSchema = incidentSchema.extend({ link_count: z.number().int(), note_count: z.number().int() });

export const incidentListResponseSchema = z.object({
  items: z.array(incidentListItemSchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next (older) page; null on the last page."),
});

export const timelineEntrySchema = z.object({
  id: z.number().int(),
  kind: z.enum(NOTE_KINDS),
  author: z.string().describe("Name of the token that made the change."),
  created_at: z.string(),
  body: z.string().describe("Markdown for notes; a generated description for changes."),
  field: z.string().nullable().describe("For kind change: the field."),
  from: z.string().nullable(),
  to: z.string().nullable(),
});

const linkSchema = z.object({
  id: z.number().int(),
  type: z.enum(["vulnerability", "image", "repository", "workload", "violation", "exception"]),
  vulnerability_id: z.string().optional(),
  image_digest: z.string().optional(),
  repository: z.string().optional(),
  workload: z.object({ cluster: z.string(), namespace: z.string(), kind: z.string(), name: z.string() }).optional(),
  violation_id: z.string().optional(),
  exception_id: z.string().optional(),
  created_by: z.string(),
  created_at: z.string(),
});

const linkWithStateSchema = linkSchema.extend({
  current: z
    .object({
      known: z.boolean().describe("Whether the registry knows the item (a scanned image, a vulnerability in a stored report, a stored exception)."),
      status: z.string().nullable().describe("image: its verdict status; workload: running or not_running; violation: open or resolved; exception: active, expired or revoked."),
      is_compliant: z.boolean().nullable().describe("image: its current verdict."),
      repository: z.string().nullable().optional(),
      title: z.string().nullable().optional().describe("vulnerability: its title."),
      severity: z.string().nullable().optional(),
      images: z.number().int().nullable().optional().describe("vulnerability / repository: images that have it now (current reports)."),
      non_compliant_images: z.number().int().nullable().optional(),
      scope: z.string().nullable().optional().describe("exception: its scope."),
      expires_at: z.string().nullable().optional(),
      running: z.number().int().nullable().optional().describe("Containers running now (running_images): of the image, of the repository's images, of images with the vulnerability, of the workload."),
      running_non_compliant: z.number().int().nullable().optional().describe("Of those, how many run an image that is not compliant now."),
      statuses: z.array(z.string()).optional().describe("workload: the statuses of the images its containers run now."),
      image_status: z.string().nullable().optional().describe("violation: the image's status when it opened."),
      image_digest: z.string().nullable().optional(),
      workload: z.string().nullable().optional().describe("violation: cluster/namespace/kind/name/container."),
      opened_at: z.string().nullable().optional(),
      resolved_at: z.string().nullable().optional(),
      resolution: z.string().nullable().optional(),
      still_running: z.boolean().nullable().optional().describe("violation: whether its container still runs."),
    })
    .describe("What the linked item looks like now."),
});

export const incidentDetailResponseSchema = incidentSchema.extend({
  timeline: z.array(timelineEntrySchema),
  links: z.array(linkWithStateSchema),
});

export const incidentPatchResponseSchema = incidentDetailResponseSchema.extend({
  changes: z.array(z.object({ field: z.string(), from: z.string().nullable(), to: z.string().nullable() })),
});

export const linkChangeResponseSchema = z.object({ created: z.boolean().optional(), link: linkSchema });
