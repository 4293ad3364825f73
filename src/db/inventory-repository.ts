/**
 * Where images run: workload_containers (running periods) and inventory_snapshots. Raw SQL throughout, because
 * every write is a set: a snapshot is COPY into a temporary table and then one statement per step (upsert what it
 * lists, mark gone what it does not), so 20,000 Pods cost a handful of statements, not 20,000.
 */
import type { PoolClient } from "pg";
import type { ContainerObservation, InventorySource } from "../domain/workload";
import { copyRows } from "./copy-in";
import type { Queryable } from "./queryable";

/** Two-key advisory locks on (class, hashtext(cluster)): one snapshot of a cluster at a time. */
const INVENTORY_LOCK_CLASS = 0x5ca9_0006;

/**
 * Serialises snapshots of one cluster (held to commit): two snapshots sent at once are stored one after the other,
 * each whole, so the cluster ends in the state of the one stored last, never a mixture.
 */
export async function lockClusterInventory(tx: Queryable, cluster: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [INVENTORY_LOCK_CLASS, cluster]);
}

const SNAPSHOT_COLUMNS = ["namespace", "kind", "name", "container", "container_type", "image_ref", "repository", "image_digest", "pods"] as const;

const IMAGE_KEY = (alias: string) => `coalesce(${alias}.image_digest, 'ref:' || coalesce(${alias}.image_ref, ''))`;

export interface SnapshotWrite {
  cluster: string;
  /** The one namespace the snapshot covers; null = the whole cluster. */
  namespace: string | null;
  containers: readonly ContainerObservation[];
  source: Exclude<InventorySource, "trivy-operator">;
  now: Date;
}

/**
 * Replaces what is known to run in a cluster (or one namespace of it) by a snapshot: the containers it lists are
 * running (new ones from now, known ones seen now), every other running container of that scope is gone now.
 * Rows the snapshot's namespace does not cover are never touched. Returns how many rows it marked gone.
 */
export async function replaceClusterContainers(tx: PoolClient, write: SnapshotWrite): Promise<{ gone: number }> {
  await tx.query(
    `CREATE TEMPORARY TABLE inventory_snapshot_rows (
       namespace text NOT NULL, kind text NOT NULL, name text NOT NULL, container text NOT NULL,
       container_type text NOT NULL, image_ref text, repository text, image_digest text, pods integer
     ) ON COMMIT DROP`,
  );
  await copyRows(tx, "inventory_snapshot_rows", SNAPSHOT_COLUMNS, write.containers, (c) => [
    c.namespace,
    c.kind,
    c.name,
    c.container,
    c.containerType,
    c.imageRef,
    c.repository,
    c.imageDigest,
    c.pods === null ? null : String(c.pods),
  ]);
  await tx.query("ANALYZE inventory_snapshot_rows");
  await tx.query(
    `INSERT INTO workload_containers AS w (cluster, namespace, kind, name, container, container_type, image_ref, repository,
       image_digest, pods, first_seen_at, last_seen_at, source)
     SELECT $1, r.namespace, r.kind, r.name, r.container, r.container_type, r.image_ref, r.repository, r.image_digest, r.pods, $2, $2, $3
     FROM inventory_snapshot_rows r
     ON CONFLICT (cluster, namespace, kind, name, container, image_key) WHERE gone_at IS NULL DO UPDATE SET
       last_seen_at = greatest(w.last_seen_at, EXCLUDED.last_seen_at), pods = EXCLUDED.pods, container_type = EXCLUDED.container_type,
       image_ref = EXCLUDED.image_ref, repository = EXCLUDED.repository, source = EXCLUDED.source`,
    [write.cluster, write.now, write.source],
  );
  const gone = await tx.query(
    `UPDATE workload_containers w SET gone_at = greatest($2, w.first_seen_at)
     WHERE w.cluster = $1 AND w.gone_at IS NULL AND ($3::text IS NULL OR w.namespace = $3)
       AND NOT EXISTS (
         SELECT 1 FROM inventory_snapshot_rows r
         WHERE r.namespace = w.namespace AND r.kind = w.kind AND r.name = w.name AND r.container = w.container
           AND ${IMAGE_KEY("r")} = w.image_key)`,
    [write.cluster, write.now, write.namespace],
  );
  return { gone: gone.rowCount ?? 0 };
}

/**
 * Records containers a source saw running without claiming to know everything (Trivy Operator reports): new ones
 * start running now, known ones are seen now; nothing is marked gone. One UNNEST statement.
 */
export async function upsertObservedContainers(
  tx: Queryable,
  cluster: string,
  containers: readonly ContainerObservation[],
  source: InventorySource,
  now: Date,
): Promise<number> {
  if (containers.length === 0) return 0;
  const { rowCount } = await tx.query(
    `INSERT INTO workload_containers AS w (cluster, namespace, kind, name, container, container_type, image_ref, repository,
       image_digest, pods, first_seen_at, last_seen_at, source)
     SELECT $1, u.namespace, u.kind, u.name, u.container, u.container_type, u.image_ref, u.repository, u.image_digest, u.pods, $2, $2, $3
     FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[])
       AS u(namespace, kind, name, container, container_type, image_ref, repository, image_digest, pods)
     ON CONFLICT (cluster, namespace, kind, name, container, image_key) WHERE gone_at IS NULL DO UPDATE SET
       last_seen_at = greatest(w.last_seen_at, EXCLUDED.last_seen_at),
       image_ref = coalesce(w.image_ref, EXCLUDED.image_ref), repository = coalesce(w.repository, EXCLUDED.repository)`,
    [
      cluster,
      now,
      source,
      containers.map((c) => c.namespace),
      containers.map((c) => c.kind),
      containers.map((c) => c.name),
      containers.map((c) => c.container),
      containers.map((c) => c.containerType),
      containers.map((c) => c.imageRef),
      containers.map((c) => c.repository),
      containers.map((c) => c.imageDigest),
      containers.map((c) => c.pods),
    ],
  );
  return rowCount ?? 0;
}

export interface SnapshotRecord {
  cluster: string;
  namespace: string | null;
  receivedAt: Date;
  source: Exclude<InventorySource, "trivy-operator">;
  pods: number;
  containers: number;
  unresolved: number;
  gone: number;
  uploadedBy: string | null;
}

export async function recordSnapshot(tx: Queryable, s: SnapshotRecord): Promise<void> {
  await tx.query(
    `INSERT INTO inventory_snapshots (cluster, namespace, received_at, source, pods, containers, unresolved, gone, uploaded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [s.cluster, s.namespace, s.receivedAt, s.source, s.pods, s.containers, s.unresolved, s.gone, s.uploadedBy],
  );
}
