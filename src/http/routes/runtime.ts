import { Router, type Request, type Response } from "express";
import { recordInventorySnapshot, type SnapshotResult } from "../../runtime/record-inventory";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { parseJson, readBody } from "../read-body";
import { inventoryQuerySchema, inventoryResponseSchema, podListBodySchema } from "../runtime-schemas";
import { parseOr422 } from "../validate";

export function inventoryAnswer(result: SnapshotResult) {
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

export function runtimeRouter(deps: AppDependencies): Router {
  const router = Router();

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
};
