/**
 * Request and response schemas of /v1/notifications (the OpenAPI document is generated from these). The secret of a
 * destination appears in the create body only: no response schema has it.
 */
import { z } from "zod";
import { ATTEMPT_STATUSES, DESTINATION_TYPES, NOTIFICATION_EVENT_TYPES, TEST_EVENT_TYPE } from "../domain/notification";
import { severitySchema } from "../domain/severity";
import { repositoryGlobSchema } from "./policy-schemas";

const nameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

/** http(s), absolute, no user:password@ (put credentials in the secret), at most 2,048 characters. */
const destinationUrlSchema = z
  .string()
  .trim()
  .max(2048)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an absolute http:// or https:// URL" });
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
    else if (url.username || url.password) ctx.addIssue({ code: "custom", message: "must not contain a user name or password (sign with the secret instead)" });
    else if (!url.hostname) ctx.addIssue({ code: "custom", message: "must name a host" });
  })
  .describe("Where messages are POSTed: http(s) only. The address it resolves to is checked at every send.");

export const destinationCreateBodySchema = z
  .object({
    name: nameSchema.describe("Unique name, e.g. security-alerts"),
    type: z.enum(DESTINATION_TYPES).describe("webhook (signed JSON), slack (incoming-webhook message) or cloudevents (CloudEvents 1.0 structured JSON)"),
    url: destinationUrlSchema,
    secret: z
      .string()
      .min(16, "must be at least 16 characters")
      .max(512)
      .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
      .optional()
      .describe("HMAC-SHA256 key for X-Scan-Registry-Signature (webhook, cloudevents). Write-only: never returned."),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.type === "slack" && body.secret !== undefined)
      ctx.addIssue({ code: "custom", path: ["secret"], message: "Slack incoming webhooks are not signed: the URL is the credential; omit secret" });
  });

export const destinationSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    type: z.enum(DESTINATION_TYPES),
    url: z.string(),
    has_secret: z.boolean().describe("Whether messages are signed; the secret itself is never returned"),
    created_at: z.string(),
    created_by: z.string().nullable(),
  })
  .meta({ id: "NotificationDestination" });

export const destinationListSchema = z.object({ items: z.array(destinationSchema) });

export const notificationIdSchema = z.object({ id: z.string().uuid("must be an ID (UUID)") });

/** The test send takes no options: an empty body, or {}. */
export const testBodySchema = z.object({}).strict();

export const testResultSchema = z.object({
  delivered: z.boolean(),
  request_id: z.string().uuid(),
  response_status: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
});

const clusterSchema = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^[^\u0000-\u001f\u007f\s]+$/, "must not contain spaces or control characters");
const namespaceSchema = z
  .string()
  .trim()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name (lower-case DNS label)");

export const ruleCreateBodySchema = z
  .object({
    name: nameSchema,
    destination_id: z.string().uuid("must be a destination ID (UUID)"),
    events: z
      .array(z.enum(NOTIFICATION_EVENT_TYPES))
      .min(1, "name at least one event")
      .max(NOTIFICATION_EVENT_TYPES.length * 2)
      .transform((e) => [...new Set(e)])
      .describe(NOTIFICATION_EVENT_TYPES.join(", ")),
    repository: repositoryGlobSchema.nullable().optional().describe("Repository glob (* within a segment, ** across); omitted = any"),
    cluster: clusterSchema.nullable().optional().describe("Only events in (or about images running in) this cluster"),
    namespace: namespaceSchema.nullable().optional().describe("Only events in this namespace"),
    min_severity: severitySchema.nullable().optional().describe("Only events of at least this severity; an event without one matches only rules without min_severity"),
    open_incident: z
      .boolean()
      .optional()
      .describe("Also open an incident per vulnerability and cluster when a matched runtime violation with a CRITICAL opens (needs runtime_violation.opened in events)"),
  })
  .strict()
  .refine((r) => !r.open_incident || r.events.includes("runtime_violation.opened"), {
    path: ["open_incident"],
    message: "opens incidents from runtime_violation.opened: add that event",
  });

export const ruleSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    destination_id: z.string().uuid(),
    destination_name: z.string(),
    destination_type: z.enum(DESTINATION_TYPES),
    events: z.array(z.enum(NOTIFICATION_EVENT_TYPES)),
    repository: z.string().nullable(),
    cluster: z.string().nullable(),
    namespace: z.string().nullable(),
    min_severity: severitySchema.nullable(),
    open_incident: z.boolean(),
    created_at: z.string(),
    created_by: z.string().nullable(),
  })
  .meta({ id: "NotificationRule" });

export const ruleListSchema = z.object({ items: z.array(ruleSchema) });

/** What a delivery attempt can be for: an event type, or a destination test. */
export const DELIVERY_EVENT_TYPES = [...NOTIFICATION_EVENT_TYPES, TEST_EVENT_TYPE] as const;

export const deliveriesQuerySchema = z
  .object({
    destination_id: z.string().uuid().optional(),
    event_id: z.string().uuid().optional(),
    event_type: z.enum(DELIVERY_EVENT_TYPES).optional(),
    status: z.enum(ATTEMPT_STATUSES).optional().describe("delivered, retrying (failed; retried later) or failed (no more retries)"),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(100).optional().describe("next_cursor of the previous page."),
  })
  .strict();

export const deliverySchema = z
  .object({
    id: z.string(),
    at: z.string(),
    event_id: z.string().nullable(),
    event_type: z.string(),
    destination_id: z.string(),
    destination_type: z.string(),
    request_id: z.string().describe("X-Scan-Registry-Delivery of the request: one request may carry several events"),
    attempt: z.number().int(),
    status: z.enum(ATTEMPT_STATUSES),
    response_status: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int(),
  })
  .meta({ id: "NotificationDelivery" });

export const deliveriesResponseSchema = z.object({
  items: z.array(deliverySchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next (older) page; null on the last page."),
});
