/**
 * Runtime violations: the periods a running container ran an image that is not compliant. Raw SQL, set-based: one
 * reconciliation (two statements) brings every violation in scope up to date, whatever changed — containers
 * (inventory), verdicts (a report, a policy or exception change, a passed expiry or scan age).
 */
import type { ViolationCause } from "../domain/workload";
import type { Queryable } from "./queryable";

/**
 * Which violations to reconcile: those of some image digests (their verdicts changed), of a cluster or one of its
 * namespaces (its containers changed), or all (a policy change re-evaluated every image).
 */
export type ReconciliationScope = { all: true } | { digests: readonly string[] } | { cluster: string; namespace?: string | null | undefined };

/** A violation that opened or resolved, as the outbox and the API describe it. */
export interface ViolationChange {
  id: string;
  workload_container_id: string;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  container: string;
  image_digest: string;
  /** The image's status when the violation opened. */
  status: "non_compliant" | "stale" | "not_scanned";
  reasons: unknown[];
  policy_version: number | null;
  opened_at: Date;
  opened_cause: ViolationCause;
  resolved_at: Date | null;
  resolved_cause: ViolationCause | null;
  resolution: "container_gone" | "image_compliant" | null;
}

export interface ReconciliationResult {
  opened: ViolationChange[];
  resolved: ViolationChange[];
}

const COLUMNS = ["cluster", "namespace", "kind", "name", "container", "image_digest", "status", "reasons", "policy_version",
  "opened_at", "opened_cause", "resolved_at", "resolved_cause", "resolution"];

/** The RETURNING list of a ViolationChange, columns qualified by `alias` (an UPDATE … FROM joins same-named ones). */
const returning = (alias: string) =>
  [`${alias}.id::text AS id`, `${alias}.workload_container_id::text AS workload_container_id`, ...COLUMNS.map((c) => `${alias}.${c}`)].join(", ");

/** Advisory lock (one-key space, beside the policy lock) that orders reconciliations; see reconcileRuntimeViolations. */
const RUNTIME_LOCK_ID = 0x5ca9_0005;

function scopeFilter(scope: ReconciliationScope, alias: string, firstParam: number): { sql: string; params: unknown[] } {
  if ("all" in scope) return { sql: "", params: [] };
  if ("digests" in scope) return { sql: `AND ${alias}.image_digest = ANY($${firstParam}::text[])`, params: [scope.digests] };
  if (scope.namespace) return { sql: `AND ${alias}.cluster = $${firstParam} AND ${alias}.namespace = $${firstParam + 1}`, params: [scope.cluster, scope.namespace] };
  return { sql: `AND ${alias}.cluster = $${firstParam}`, params: [scope.cluster] };
}

/**
 * Opens a violation for every running container in scope whose image is not compliant now and has none open, and
 * resolves every open violation in scope whose container is gone or whose image is compliant now: one UPDATE and
 * one INSERT … SELECT, whatever the number of containers. Returns exactly what changed, for notifications.
 *
 * Call it once per transaction, AFTER the transaction's last write to verdicts or containers, in the same
 * transaction. It takes an advisory lock held to commit — shared for a digest scope, exclusive for a cluster or all
 * — so of two transactions whose changes meet (a report turning an image non-compliant while a snapshot starts it
 * running), the second to reconcile sees what the first committed. Two uploads of different images still reconcile
 * side by side; the rows they both could touch (one image's) are already ordered by the image_scans row lock.
 */
export async function reconcileRuntimeViolations(
  tx: Queryable,
  scope: ReconciliationScope,
  cause: ViolationCause,
  now: Date,
): Promise<ReconciliationResult> {
  if ("digests" in scope && scope.digests.length === 0) return { opened: [], resolved: [] };
  await tx.query(`SELECT ${"digests" in scope ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock"}($1)`, [RUNTIME_LOCK_ID]);

  const resolveScope = scopeFilter(scope, "v", 3);
  const resolved = await tx.query<ViolationChange>(
    `UPDATE runtime_violations v SET
       resolved_at = greatest(coalesce(w.gone_at, $1), v.opened_at),
       resolved_cause = $2,
       resolution = CASE WHEN w.gone_at IS NOT NULL THEN 'container_gone' ELSE 'image_compliant' END
     FROM workload_containers w
       LEFT JOIN image_scans s ON s.image_digest = w.image_digest
       LEFT JOIN (SELECT coalesce(rules->>'unscanned', 'deny') = 'allow' AS unscanned_allowed
                  FROM policy_versions ORDER BY version DESC LIMIT 1) p ON true
     WHERE v.resolved_at IS NULL AND w.id = v.workload_container_id ${resolveScope.sql}
       AND (w.gone_at IS NOT NULL OR coalesce(s.is_compliant, p.unscanned_allowed, false))
     RETURNING ${returning("v")}`,
    [now, cause, ...resolveScope.params],
  );

  const openScope = scopeFilter(scope, "r", 3);
  const opened = await tx.query<ViolationChange>(
    `INSERT INTO runtime_violations AS v (workload_container_id, cluster, namespace, kind, name, container, image_digest,
       opened_at, opened_cause, status, reasons, policy_version)
     SELECT r.workload_container_id, r.cluster, r.namespace, r.kind, r.name, r.container, r.image_digest,
       greatest($1, r.first_seen_at), $2, r.status, r.reasons, r.policy_version
     FROM running_images r
     WHERE r.is_compliant = false ${openScope.sql}
       AND NOT EXISTS (SELECT 1 FROM runtime_violations o WHERE o.workload_container_id = r.workload_container_id AND o.resolved_at IS NULL)
     ON CONFLICT (workload_container_id) WHERE resolved_at IS NULL DO NOTHING
     RETURNING ${returning("v")}`,
    [now, cause, ...openScope.params],
  );
  return { opened: opened.rows, resolved: resolved.rows };
}
