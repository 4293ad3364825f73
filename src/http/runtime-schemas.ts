/**
 * Requests and answers of the runtime endpoints (inventory, workloads, violations), for validation and /openapi.json.
 */
import { z } from "zod";
import { STATUSES } from "../domain/verdict";
import { NAMESPACE_PATTERN, VIOLATION_CAUSES } from "../domain/workload";
import { clusterNameSchema, reasonSchema } from "./schemas";

export { clusterNameSchema };

const instant = z.string().describe("ISO 8601 date-time");

export const namespaceSchema = z
  .string()
  .regex(NAMESPACE_PATTERN, "must be a Kubernetes namespace name (a DNS-1123 label)")
  .describe("Kubernetes namespace");

export const inventoryQuerySchema = z
  .object({
    cluster: clusterNameSchema,
    namespace: namespaceSchema.optional().describe("Replace only this namespace's containers; the cluster's other namespaces are left as they are"),
    source: z.enum(["inventory", "agent"]).default("inventory").describe("Who sends the snapshot: inventory (an upload) or agent (scan-registry agent)"),
  })
  .strict();

export const inventoryResponseSchema = z
  .object({
    cluster: z.string(),
    namespace: z.string().nullable().describe("The namespace the snapshot replaced; null = the whole cluster"),
    snapshot_at: instant.describe("When it was stored: the time its containers were last seen, or marked gone"),
    pods: z.number().int().describe("Pods in the snapshot, finished ones included"),
    containers: z.number().int().describe("Workload containers it lists as running: one per workload, container and image (running + unresolved)"),
    running: z.number().int().describe("Of those, with a manifest digest"),
    unresolved: z.number().int().describe("Of those, without one (the runtime reported only a config ID, or the Pod has no status yet)"),
    gone: z.number().int().describe("Containers that ran before and are absent from this snapshot, now marked gone"),
    violations_opened: z.number().int(),
    violations_resolved: z.number().int(),
  })
  .meta({ id: "InventorySnapshotResult", description: "What a snapshot changed" });

/** The example a PodList body has in the document: kubectl's own output shape, abridged. */
export const podListBodySchema = z
  .object({
    apiVersion: z.literal("v1"),
    kind: z.enum(["PodList", "List"]),
    items: z.array(z.object({}).catchall(z.unknown()).describe("A Pod as the Kubernetes API returns it (metadata, spec, status)")),
  })
  .catchall(z.unknown())
  .meta({ id: "PodList", description: "A PodList or List of Pods, exactly as `kubectl get pods -A -o json` prints it" });

export const WORKLOAD_STATUSES = [...STATUSES, "unresolved"] as const;
export const VIOLATION_STATES = ["open", "resolved"] as const;
const limit = z.coerce.number().int().min(1).max(500).default(100);
const cursor = z.string().max(2000).optional().describe("Opaque cursor from next_cursor of the previous page");

export const listWorkloadsQuerySchema = z
  .object({
    cluster: clusterNameSchema.optional(),
    namespace: namespaceSchema.optional(),
    status: z.enum(WORKLOAD_STATUSES).optional().describe("The image's verdict status, or unresolved (no digest known)"),
    repository: z.string().min(1).max(512).optional().describe("Exact normalised repository, e.g. docker.io/library/nginx"),
    vulnerability_id: z.string().min(1).max(200).regex(/^[\w.:/+-]+$/, "not a vulnerability ID").optional().describe("Only containers whose image's current report has it"),
    limit,
    cursor,
  })
  .strict();

export const workloadSchema = z
  .object({
    cluster: z.string(),
    namespace: z.string(),
    kind: z.string().describe("Deployment, StatefulSet, DaemonSet, CronJob, Job, ... or Pod"),
    name: z.string(),
    container: z.string(),
    image_ref: z.string().nullable().describe("The image as the Pod spec names it, Docker-normalised"),
    image_digest: z.string().nullable().describe("The manifest digest it runs; null = unresolved"),
    status: z.enum(WORKLOAD_STATUSES).describe("The image's current verdict status, or unresolved (no digest known)"),
    is_compliant: z.boolean().nullable().describe("The image's current verdict; null when unresolved"),
    reasons: z.array(reasonSchema),
    first_seen_at: instant.describe("When this container started running this image (as far as the registry saw)"),
    last_seen_at: instant.describe("When a source last reported it running"),
  })
  .meta({ id: "Workload", description: "A workload container running now, with its image's current verdict" });

export const workloadListResponseSchema = z.object({
  items: z.array(workloadSchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next page; null on the last page"),
});

export const listViolationsQuerySchema = z
  .object({
    state: z.enum(VIOLATION_STATES).default("open").describe("open (resolved_at is null) or resolved"),
    cluster: clusterNameSchema.optional(),
    namespace: namespaceSchema.optional(),
    image_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "must be sha256: followed by 64 lowercase hex digits").optional(),
    limit,
    cursor,
  })
  .strict();

const violationSchema = z
  .object({
    id: z.string(),
    state: z.enum(["open", "resolved"]),
    cluster: z.string(),
    namespace: z.string(),
    kind: z.string(),
    name: z.string(),
    container: z.string(),
    image_digest: z.string(),
    image_ref: z.string().nullable(),
    status: z.enum(["non_compliant", "stale", "not_scanned"]).describe("The image's status when it opened"),
    reasons: z.array(reasonSchema).describe("The image's reasons when it opened"),
    policy_version: z.number().int().nullable(),
    opened_at: instant,
    opened_cause: z.enum(VIOLATION_CAUSES),
    resolved_at: instant.nullable(),
    resolved_cause: z.enum(VIOLATION_CAUSES).nullable(),
    resolution: z.enum(["container_gone", "image_compliant"]).nullable(),
  })
  .meta({ id: "RuntimeViolation", description: "A period in which a running container ran an image that was not compliant" });

export const violationListResponseSchema = z.object({
  items: z.array(violationSchema),
  next_cursor: z.string().nullable().describe("Pass as ?cursor= for the next page; null on the last page"),
});
