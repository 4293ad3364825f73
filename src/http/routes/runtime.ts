import { Router, type Request, type Response } from "express";
import type { RunningWorkloadRow, ViolationRow } from "../../db/runtime-read-model";
import { recordInventorySnapshot, type SnapshotResult } from "../../runtime/record-inventory";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { parseJson, readBody } from "../read-body";
import {
  inventoryQuerySchema,
  inventoryResponseSchema,
  listViolationsQuerySchema,
  listWorkloadsQuerySchema,
  podListBodySchema,
  violationListResponseSchema,
  workloadListResponseSchema,
  VIOLATION_STATES,
  WORKLOAD_STATUSES,
} from "../runtime-schemas";
import { parseListQuery, parseOr422 } from "../validate";

function inventoryAnswer(result: SnapshotResult) {
  return {
    cluster: result.cluster,
    namespace: result.namespace,
    snapshot_at: result.snapshotAt,
    pods: result.pods,
    containers: result.containers,
    running: result.running,
    unresolved: result.unresolved,
    gone: result.gone,
    violations_opened: result.opened.length,
    violations_resolved: result.resolved.length,
  };
}

/** A running container as GET /v1/workloads (and a vulnerability's `running`) shows it: PRODUCT.md's fields. */
export function workloadItem(r: RunningWorkloadRow) {
  return {
    cluster: r.cluster,
    namespace: r.namespace,
    kind: r.kind,
    name: r.name,
    container: r.container,
    image_ref: r.image_ref,
    image_digest: r.image_digest,
    status: r.status,
    is_compliant: r.is_compliant,
    reasons: r.reasons,
    first_seen_at: r.first_seen_at.toISOString(),
    last_seen_at: r.last_seen_at.toISOString(),
  };
}

function violationItem(v: ViolationRow) {
  return {
    id: v.id,
    state: v.resolved_at === null ? "open" : "resolved",
    cluster: v.cluster,
    namespace: v.namespace,
    kind: v.kind,
    name: v.name,
    container: v.container,
    image_digest: v.image_digest,
    image_ref: v.image_ref,
    status: v.status,
    reasons: v.reasons,
    policy_version: v.policy_version,
    opened_at: v.opened_at.toISOString(),
    opened_cause: v.opened_cause,
    resolved_at: v.resolved_at?.toISOString() ?? null,
    resolved_cause: v.resolved_cause,
    resolution: v.resolution,
  };
}

export function runtimeRouter(deps: AppDependencies): Router {
  const router = Router();
  const canRead = requireScope(deps.authenticate, "compliance:read");

  router.get("/v1/workloads", canRead, async (req, res) => {
    const query = parseListQuery(listWorkloadsQuerySchema, req.query, { status: WORKLOAD_STATUSES }, "422");
    const page = await deps.reading.workloads({
      cluster: query.cluster,
      namespace: query.namespace,
      status: query.status,
      repository: query.repository,
      vulnerabilityId: query.vulnerability_id,
      limit: query.limit,
      cursor: query.cursor,
    });
    res.json({ items: page.items.map(workloadItem), next_cursor: page.nextCursor });
  });

  router.get("/v1/violations", canRead, async (req, res) => {
    const query = parseListQuery(listViolationsQuerySchema, req.query, { state: VIOLATION_STATES }, "422");
    const page = await deps.reading.violations({
      state: query.state,
      cluster: query.cluster,
      namespace: query.namespace,
      imageDigest: query.image_digest,
      limit: query.limit,
      cursor: query.cursor,
    });
    res.json({ items: page.items.map(violationItem), next_cursor: page.nextCursor });
  });

  router.post("/v1/inventory", requireScope(deps.authenticate, "inventory:write"), async (req: Request, res: Response) => {
    const query = parseOr422(inventoryQuerySchema, req.query, "query");
    const bytes = await readBody(req, deps.config.maxInventoryBytes, { limitSetting: "MAX_INVENTORY_BYTES" });
    const result = await recordInventorySnapshot(
      { pool: deps.pool, clock: deps.clock },
      {
        cluster: query.cluster,
        namespace: query.namespace,
        json: parseJson(bytes),
        source: query.source,
        uploadedBy: req.principal?.name,
        maxPods: deps.config.maxInventoryPods,
      },
    );
    res.json(inventoryAnswer(result));
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "post",
    path: "/v1/inventory",
    tags: ["Runtime"],
    summary: "A snapshot of the Pods running in a cluster (or one namespace): replaces what was known of it",
    description:
      "The body is a PodList or a List of Pods exactly as `kubectl get pods -A -o json` prints it (Content-Encoding: gzip " +
      "accepted). Containers it lists run now; containers known before and absent from it are marked gone (with " +
      "?namespace=, only in that namespace). Digests come from status.*ContainerStatuses[].imageID; a container without " +
      "one is kept as unresolved. Runtime violations open and resolve in the same transaction. 413 past " +
      "MAX_INVENTORY_BYTES or MAX_INVENTORY_PODS; 422 (with paths) for a body that is not a PodList or an invalid " +
      "cluster or namespace name. Snapshots of one cluster are stored one at a time, each whole.",
    ...authenticated("inventory:write"),
    request: { query: inventoryQuerySchema, body: jsonBody(podListBodySchema) },
    responses: { 200: jsonResponse("Stored", inventoryResponseSchema), ...problems(400, 401, 403, 413, 415, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/workloads",
    tags: ["Runtime"],
    summary: "The workload containers running now, with their image's current verdict (cursor pagination)",
    description:
      "Ordered by cluster, namespace, kind, name, container. `status` filters on the image's verdict status, or " +
      "`unresolved` for containers whose digest is not known; `vulnerability_id` keeps the containers whose image's " +
      "current report has that vulnerability. An unknown filter value is 422.",
    ...authenticated("compliance:read"),
    request: { query: listWorkloadsQuerySchema },
    responses: { 200: jsonResponse("A page of running containers", workloadListResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/violations",
    tags: ["Runtime"],
    summary: "Runtime violations: periods a running container ran an image that was not compliant (newest first, cursor pagination)",
    description: "`state=open` (default) lists the violations open now, `state=resolved` those that ended, with how and why.",
    ...authenticated("compliance:read"),
    request: { query: listViolationsQuerySchema },
    responses: { 200: jsonResponse("A page of violations", violationListResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
};
