/**
 * What runs where, as the API (GET /v1/workloads, GET /v1/violations, a vulnerability's `running`), the dashboard's
 * Running page and the metrics read it. Raw SQL: keyset pages over the running_images view and runtime_violations,
 * and grouped counts, which Prisma Client does not express.
 */
import { decodeIdCursor, decodeKeyCursor, encodeIdCursor, encodeKeyCursor, isBigintCursor } from "../domain/cursor";
import type { Queryable } from "./queryable";

/** A running workload container with its image's current verdict (a running_images row). */
export interface RunningWorkloadRow {
  workload_container_id: string;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  container: string;
  container_type: string;
  image_ref: string | null;
  repository: string | null;
  image_digest: string | null;
  status: string;
  is_compliant: boolean | null;
  reasons: unknown[];
  pods: number | null;
  source: string;
  first_seen_at: Date;
  last_seen_at: Date;
  scanned_at: Date | null;
  open_violation_id: string | null;
}

export interface WorkloadFilter {
  cluster?: string | undefined;
  namespace?: string | undefined;
  status?: string | undefined;
  repository?: string | undefined;
  vulnerabilityId?: string | undefined;
}

/** Where a page of workloads ended: the order key of its last row. */
type WorkloadKey = [cluster: string, namespace: string, kind: string, name: string, container: string, id: string];

function encodeWorkloadCursor(r: RunningWorkloadRow): string {
  const key: WorkloadKey = [r.cluster, r.namespace, r.kind, r.name, r.container, r.workload_container_id];
  return encodeKeyCursor(key);
}

const isWorkloadKey = (value: unknown[]): value is WorkloadKey =>
  value.length === 6 &&
  value.slice(0, 5).every((v) => typeof v === "string" && v.length <= 1024 && !v.includes("\u0000")) &&
  typeof value[5] === "string" &&
  isBigintCursor(value[5]);

function decodeWorkloadCursor(cursor: string): WorkloadKey {
  return decodeKeyCursor(cursor, isWorkloadKey);
}

const RUNNING_COLUMNS = `r.workload_container_id::text AS workload_container_id, r.cluster, r.namespace, r.kind, r.name, r.container,
  r.container_type, r.image_ref, r.repository, r.image_digest, r.status, r.is_compliant, r.reasons, r.pods, r.source,
  r.first_seen_at, r.last_seen_at, r.scanned_at,
  (SELECT v.id::text FROM runtime_violations v WHERE v.workload_container_id = r.workload_container_id AND v.resolved_at IS NULL) AS open_violation_id`;

/**
 * One page of the containers running now, by (cluster, namespace, kind, name, container, id): keyset pagination
 * after the last row of the previous page (the workload_containers_running_order_idx order).
 */
export async function listRunningWorkloads(
  q: Queryable,
  filter: WorkloadFilter & { limit: number; cursor?: string | undefined },
): Promise<{ items: RunningWorkloadRow[]; nextCursor: string | null }> {
  const after = filter.cursor === undefined ? null : decodeWorkloadCursor(filter.cursor);
  const { rows } = await q.query<RunningWorkloadRow>(
    `SELECT ${RUNNING_COLUMNS}
     FROM running_images r
     WHERE ($1::text IS NULL OR r.cluster = $1)
       AND ($2::text IS NULL OR r.namespace = $2)
       AND ($3::text IS NULL OR r.status = $3)
       AND ($4::text IS NULL OR r.repository = $4)
       AND ($5::text IS NULL OR EXISTS (
         SELECT 1 FROM image_scans s JOIN findings f ON f.report_id = s.latest_report_id
         WHERE s.image_digest = r.image_digest AND f.vulnerability_id = $5))
       ${after ? "AND (r.cluster, r.namespace, r.kind, r.name, r.container, r.workload_container_id) > ($7::text, $8::text, $9::text, $10::text, $11::text, $12::bigint)" : ""}
     ORDER BY r.cluster, r.namespace, r.kind, r.name, r.container, r.workload_container_id
     LIMIT $6`,
    // The keyset condition is left out of the first page's statement (not `$7 IS NULL OR …`): a row comparison
    // without an OR is an index condition on workload_containers_running_order_idx, so a deep page starts where the
    // previous one ended instead of filtering every row before it.
    [
      filter.cluster ?? null,
      filter.namespace ?? null,
      filter.status ?? null,
      filter.repository ?? null,
      filter.vulnerabilityId ?? null,
      filter.limit + 1,
      ...(after ?? []),
    ],
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? encodeWorkloadCursor(items[items.length - 1]!) : null };
}

/** The containers running now whose image's current report has the vulnerability, and how many there are. */
export async function listRunningWithVulnerability(
  q: Queryable,
  vulnerabilityId: string,
  limit: number,
): Promise<{ items: RunningWorkloadRow[]; count: number }> {
  const { rows } = await q.query<RunningWorkloadRow & { total: number }>(
    `SELECT ${RUNNING_COLUMNS}, count(*) OVER ()::int AS total
     FROM running_images r
     WHERE r.image_digest IN (
       SELECT s.image_digest FROM image_scans s JOIN findings f ON f.report_id = s.latest_report_id WHERE f.vulnerability_id = $1)
     ORDER BY r.cluster, r.namespace, r.kind, r.name, r.container, r.workload_container_id
     LIMIT $2`,
    [vulnerabilityId, limit],
  );
  return { items: rows.map(({ total: _t, ...row }) => row), count: rows[0]?.total ?? 0 };
}

/** A runtime_violations row with the image reference its container ran. */
export interface ViolationRow {
  id: string;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  container: string;
  image_digest: string;
  image_ref: string | null;
  status: "non_compliant" | "stale" | "not_scanned";
  reasons: unknown[];
  policy_version: number | null;
  opened_at: Date;
  opened_cause: string;
  resolved_at: Date | null;
  resolved_cause: string | null;
  resolution: "container_gone" | "image_compliant" | null;
}

export interface ViolationFilter {
  state: "open" | "resolved";
  cluster?: string | undefined;
  namespace?: string | undefined;
  imageDigest?: string | undefined;
}

/** One page of runtime violations, newest first (by ID: the order they opened in), keyset after the previous page's last. */
export async function listViolations(
  q: Queryable,
  filter: ViolationFilter & { limit: number; cursor?: string | undefined },
): Promise<{ items: ViolationRow[]; nextCursor: string | null }> {
  const { rows } = await q.query<ViolationRow>(
    `SELECT v.id::text AS id, v.cluster, v.namespace, v.kind, v.name, v.container, v.image_digest, w.image_ref, v.status,
       v.reasons, v.policy_version, v.opened_at, v.opened_cause, v.resolved_at, v.resolved_cause, v.resolution
     FROM runtime_violations v JOIN workload_containers w ON w.id = v.workload_container_id
     WHERE (CASE WHEN $1 = 'open' THEN v.resolved_at IS NULL ELSE v.resolved_at IS NOT NULL END)
       AND ($2::text IS NULL OR v.cluster = $2)
       AND ($3::text IS NULL OR v.namespace = $3)
       AND ($4::text IS NULL OR v.image_digest = $4)
       ${filter.cursor === undefined ? "" : "AND v.id < $6::bigint"}
     ORDER BY v.id DESC LIMIT $5`,
    [
      filter.state,
      filter.cluster ?? null,
      filter.namespace ?? null,
      filter.imageDigest ?? null,
      filter.limit + 1,
      ...(filter.cursor === undefined ? [] : [decodeIdCursor("v", filter.cursor)]),
    ],
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? encodeIdCursor("v", items[items.length - 1]!.id) : null };
}

/** Containers running now and open violations, counted by cluster and status (the runtime gauges, the dashboard). */
export interface RuntimeCounts {
  running: { cluster: string; status: string; n: number }[];
  violations: { cluster: string; status: string; n: number }[];
}

/**
 * Two grouped counts in one round trip: running containers by cluster and their image's status (running_images),
 * open violations by cluster and their status at opening (the runtime_violations open partial index).
 */
export async function countRuntimeByClusterAndStatus(q: Queryable): Promise<RuntimeCounts> {
  const { rows } = await q.query<{ what: "running" | "violations"; cluster: string; status: string; n: number }>(
    `SELECT 'running' AS what, cluster, status, count(*)::int AS n FROM running_images GROUP BY cluster, status
     UNION ALL
     SELECT 'violations', cluster, status, count(*)::int FROM runtime_violations WHERE resolved_at IS NULL GROUP BY cluster, status`,
  );
  const pick = (what: "running" | "violations") => rows.filter((r) => r.what === what).map(({ cluster, status, n }) => ({ cluster, status, n }));
  return { running: pick("running"), violations: pick("violations") };
}

/** One namespace of one cluster on the dashboard's Running page. */
export interface NamespaceRuntimeRow {
  cluster: string;
  namespace: string;
  running: number;
  non_compliant: number;
  not_scanned: number;
  unresolved: number;
  open_violations: number;
}

/**
 * Running containers per cluster and namespace with how many run a non-compliant (any not-compliant status), a
 * never-scanned or an unresolved image, and the open violations: namespaces with violations first (most first).
 */
export async function summariseRunningByNamespace(
  q: Queryable,
  filter: { cluster?: string | undefined; namespace?: string | undefined },
): Promise<NamespaceRuntimeRow[]> {
  const { rows } = await q.query<NamespaceRuntimeRow>(
    `WITH running AS (
       SELECT cluster, namespace, count(*)::int AS running,
         count(*) FILTER (WHERE is_compliant = false)::int AS non_compliant,
         count(*) FILTER (WHERE status = 'not_scanned')::int AS not_scanned,
         count(*) FILTER (WHERE status = 'unresolved')::int AS unresolved
       FROM running_images
       WHERE ($1::text IS NULL OR cluster = $1) AND ($2::text IS NULL OR namespace = $2)
       GROUP BY cluster, namespace
     ), open AS (
       SELECT cluster, namespace, count(*)::int AS open_violations FROM runtime_violations
       WHERE resolved_at IS NULL AND ($1::text IS NULL OR cluster = $1) AND ($2::text IS NULL OR namespace = $2)
       GROUP BY cluster, namespace
     )
     SELECT coalesce(r.cluster, o.cluster) AS cluster, coalesce(r.namespace, o.namespace) AS namespace,
       coalesce(r.running, 0) AS running, coalesce(r.non_compliant, 0) AS non_compliant, coalesce(r.not_scanned, 0) AS not_scanned,
       coalesce(r.unresolved, 0) AS unresolved, coalesce(o.open_violations, 0) AS open_violations
     FROM running r FULL JOIN open o ON o.cluster = r.cluster AND o.namespace = r.namespace
     ORDER BY coalesce(o.open_violations, 0) DESC, 1, 2`,
    [filter.cluster ?? null, filter.namespace ?? null],
  );
  return rows;
}

/** The containers running one image now (at most `limit`, by cluster, namespace, workload), and how many there are. */
export async function listRunningImage(q: Queryable, digest: string, limit: number): Promise<{ items: RunningWorkloadRow[]; count: number }> {
  const { rows } = await q.query<RunningWorkloadRow & { total: number }>(
    `SELECT ${RUNNING_COLUMNS}, count(*) OVER ()::int AS total
     FROM running_images r WHERE r.image_digest = $1
     ORDER BY r.cluster, r.namespace, r.kind, r.name, r.container, r.workload_container_id
     LIMIT $2`,
    [digest, limit],
  );
  return { items: rows.map(({ total: _t, ...row }) => row), count: rows[0]?.total ?? 0 };
}
