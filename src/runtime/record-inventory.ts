/**
 * The inventory story: a snapshot of what runs in a cluster (or one namespace of it) replaces what was known of it,
 * and the violations of that scope follow in the same transaction. A snapshot is decoded whole before anything is
 * written, so a refused one writes nothing.
 */
import type { Pool } from "pg";
import { lockClusterInventory, recordSnapshot, replaceClusterContainers } from "../db/inventory-repository";
import { inTransaction } from "../db/queryable";
import type { InventorySource } from "../domain/workload";
import { decodePodList } from "../formats/kubernetes-pods";
import { reconcileViolations, type ViolationChange } from "./reconcile-violations";

export interface InventoryDependencies {
  pool: Pool;
  clock: () => Date;
}

export interface SnapshotRequest {
  cluster: string;
  /** Only this namespace is replaced; the cluster's other namespaces are left as they are. */
  namespace?: string | undefined;
  /** The PodList, parsed JSON. */
  json: unknown;
  source: Exclude<InventorySource, "trivy-operator">;
  uploadedBy?: string | undefined;
  maxPods: number;
}

export interface SnapshotResult {
  cluster: string;
  namespace: string | null;
  snapshotAt: Date;
  pods: number;
  /** Workload containers the snapshot lists as running (one per workload, container and image). */
  containers: number;
  /** Of those, with a manifest digest. */
  running: number;
  /** Of those, without one. */
  unresolved: number;
  /** Containers known to run before that the snapshot no longer lists. */
  gone: number;
  opened: ViolationChange[];
  resolved: ViolationChange[];
}

export async function recordInventorySnapshot(deps: InventoryDependencies, request: SnapshotRequest): Promise<SnapshotResult> {
  const decoded = decodePodList(request.json, { maxPods: request.maxPods, namespace: request.namespace });
  const unresolved = decoded.containers.filter((c) => c.imageDigest === null).length;
  const namespace = request.namespace ?? null;
  return inTransaction(deps.pool, async (tx) => {
    await lockClusterInventory(tx, request.cluster);
    // Read after the lock: the snapshot stored last carries the latest time.
    const now = deps.clock();
    const { gone } = await replaceClusterContainers(tx, { cluster: request.cluster, namespace, containers: decoded.containers, source: request.source, now });
    await recordSnapshot(tx, {
      cluster: request.cluster,
      namespace,
      receivedAt: now,
      source: request.source,
      pods: decoded.pods,
      containers: decoded.containers.length,
      unresolved,
      gone,
      uploadedBy: request.uploadedBy ?? null,
    });
    const { opened, resolved } = await reconcileViolations(tx, { cluster: request.cluster, namespace }, "inventory", now);
    return {
      cluster: request.cluster,
      namespace,
      snapshotAt: now,
      pods: decoded.pods,
      containers: decoded.containers.length,
      running: decoded.containers.length - unresolved,
      unresolved,
      gone,
      opened,
      resolved,
    };
  });
}
