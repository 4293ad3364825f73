/**
 * The transactional outbox. Every function here runs inside the caller's transaction — the one that makes the
 * change — so an event commits with its cause or not at all. Raw SQL, set-based: a policy change flipping 50,000
 * verdicts writes its events with one INSERT … SELECT FROM unnest per batch of 5,000, never a statement per row.
 *
 * Each statement builds candidate events, keeps those that at least one rule matches, and writes one job per
 * (event, destination) pair — an event matched by two rules of one destination is sent to it once.
 */
import type { NotificationEventType, VerdictChangeCause } from "../domain/notification";
import type { Queryable } from "./queryable";


/** Channel the deliverers LISTEN on; a NOTIFY is queued in the change's transaction, so it arrives after commit. */
export const NOTIFICATION_CHANNEL = "scan_registry_notifications";

const SEVERITY_ORDER = "ARRAY['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']";

/**
 * The change an event belongs to is the transaction that writes it: every event of one upload, policy change or
 * sweep shares it (and is delivered together), with nothing to pass around between the batches that write them.
 */
const CHANGE_ID = "pg_current_xact_id()::text::bigint";

/** Whether rule `r` matches candidate event `c` (every filter the rule sets must match). */
const RULE_MATCHES = `r.events @> ARRAY[c.event_type]
  AND (r.repository IS NULL OR EXISTS (SELECT 1 FROM unnest(c.repositories) AS rp(name) WHERE rp.name ~ repository_glob_regex(r.repository)))
  AND ((r.cluster IS NULL AND r.namespace IS NULL) OR EXISTS (
    SELECT 1 FROM jsonb_to_recordset(c.placements) AS p(cluster text, namespace text)
    WHERE (r.cluster IS NULL OR p.cluster = r.cluster) AND (r.namespace IS NULL OR p.namespace = r.namespace)))
  AND (r.min_severity IS NULL OR array_position(${SEVERITY_ORDER}, c.severity) >= array_position(${SEVERITY_ORDER}, r.min_severity))`;

/**
 * The common tail: `candidate` must yield (id, event_type, occurred_at, change_id, subject, repositories, placements,
 * severity, payload). Answers how many jobs were written.
 */
function outboxStatement(prefix: string, candidateSql: string): string {
  return `WITH ${prefix}candidate AS MATERIALIZED (${candidateSql}),
  pairs AS (SELECT DISTINCT c.id, r.destination_id FROM candidate c JOIN notification_rules r ON ${RULE_MATCHES}),
  ev AS (
    INSERT INTO notification_events (id, event_type, occurred_at, change_id, subject, repositories, placements, severity, payload)
    SELECT c.id, c.event_type, c.occurred_at, c.change_id, c.subject, c.repositories, c.placements, c.severity, c.payload
    FROM candidate c WHERE c.id IN (SELECT id FROM pairs)
    RETURNING id, occurred_at, change_id),
  jobs AS (
    INSERT INTO notification_jobs (event_id, destination_id, change_id, next_attempt_at, created_at)
    SELECT p.id, p.destination_id, ev.change_id, ev.occurred_at, ev.occurred_at FROM pairs p JOIN ev ON ev.id = p.id
    RETURNING 1)
  SELECT (SELECT count(*) FROM jobs)::int AS jobs`;
}

async function runOutbox(q: Queryable, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await q.query<{ jobs: number }>(sql, params);
  const jobs = rows[0]?.jobs ?? 0;
  if (jobs > 0) await q.query("SELECT pg_notify($1, '')", [NOTIFICATION_CHANNEL]);
  return jobs;
}

/** Whether any rule subscribes to the event type: when none does, the writers skip building events at all. */
export async function anyRuleFor(q: Queryable, eventType: NotificationEventType): Promise<boolean> {
  const { rows } = await q.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM notification_rules WHERE events @> ARRAY[$1]) AS any", [eventType]);
  return rows[0]!.any;
}

/** An image whose verdict was just rewritten in this transaction, with its answer before. */
export interface VerdictBefore {
  imageDigest: string;
  isCompliant: boolean;
  status: string;
}

/** Severity of an image event: its highest vulnerability severity, a secret counting as CRITICAL. */
const IMAGE_SEVERITY = `CASE WHEN s.critical_count > 0 OR s.secret_count > 0 THEN 'CRITICAL' WHEN s.high_count > 0 THEN 'HIGH'
  WHEN s.medium_count > 0 THEN 'MEDIUM' WHEN s.low_count > 0 THEN 'LOW' WHEN s.unknown_count > 0 THEN 'UNKNOWN' END`;

/** Where an image runs now (its running containers' cluster and namespace): rules filter verdict changes by it. */
const RUNNING_PLACEMENTS = `(SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('cluster', w.cluster, 'namespace', w.namespace)), '[]'::jsonb)
  FROM workload_containers w WHERE w.image_digest = s.image_digest AND w.gone_at IS NULL)`;

/**
 * verdict.changed for each image whose is_compliant differs from `before` — read from image_scans as this
 * transaction has just written it, so the event says exactly what was committed. Cause `expiry` becomes
 * `scan_age` for an image that turned stale.
 */
export async function insertVerdictChangedEvents(
  q: Queryable,
  before: readonly VerdictBefore[],
  change: { cause: VerdictChangeCause; now: Date },
): Promise<number> {
  if (before.length === 0) return 0;
  const candidate = `
    SELECT gen_random_uuid() AS id, 'verdict.changed'::text AS event_type, $2::timestamptz AS occurred_at, ${CHANGE_ID} AS change_id,
      s.image_digest AS subject,
      CASE WHEN s.repository IS NULL THEN '{}'::text[] ELSE ARRAY[s.repository] END AS repositories,
      ${RUNNING_PLACEMENTS} AS placements,
      ${IMAGE_SEVERITY} AS severity,
      jsonb_build_object(
        'image', jsonb_build_object('digest', s.image_digest, 'repository', s.repository, 'tags', to_jsonb(s.tags)),
        'cause', CASE WHEN $3::text = 'expiry' AND s.status = 'stale' THEN 'scan_age' ELSE $3::text END,
        'before', jsonb_build_object('is_compliant', u.is_compliant, 'status', u.status),
        'after', jsonb_build_object('is_compliant', s.is_compliant, 'status', s.status, 'reasons', s.reasons),
        'policy_version', s.policy_version,
        'report_id', s.latest_report_id,
        'scanned_at', s.scanned_at,
        'summary', jsonb_build_object('critical', s.critical_count, 'high', s.high_count, 'medium', s.medium_count,
          'low', s.low_count, 'unknown', s.unknown_count, 'fixable', s.fixable_count, 'secrets', s.secret_count,
          'misconfigurations', s.misconfiguration_count)
      ) AS payload
    FROM unnest($1::text[], $4::boolean[], $5::text[]) AS u(image_digest, is_compliant, status)
    JOIN image_scans s ON s.image_digest = u.image_digest
    WHERE s.is_compliant IS DISTINCT FROM u.is_compliant`;
  return runOutbox(q, outboxStatement("", candidate), [
    before.map((b) => b.imageDigest),
    change.now,
    change.cause,
    before.map((b) => b.isCompliant),
    before.map((b) => b.status),
  ]);
}

/**
 * exception.expiring for every exception in force that expires within `days` and has not been announced: marks
 * them (expiry_notified_at) and writes their events in one statement. Marking happens whether or not a rule
 * matches, so each exception is announced at most once; a concurrent sweep waits on the row lock and skips it.
 */
export async function insertExceptionExpiringEvents(q: Queryable, change: { now: Date; days: number }): Promise<{ exceptions: number; jobs: number }> {
  const due = `due AS (
      UPDATE policy_exceptions e SET expiry_notified_at = $1
      WHERE e.revoked_at IS NULL AND e.expiry_notified_at IS NULL AND e.expires_at > $1
        AND e.expires_at <= $1 + make_interval(days => $2::int)
      RETURNING e.id, e.vulnerability_id, e.repository, e.image_digest, e.reason, e.created_by, e.created_at, e.expires_at),
    marked AS (SELECT count(*)::int AS n FROM due),
    `;
  const candidate = `
    SELECT gen_random_uuid() AS id, 'exception.expiring'::text AS event_type, $1::timestamptz AS occurred_at, ${CHANGE_ID} AS change_id,
      d.id::text AS subject,
      COALESCE(a.repositories, '{}'::text[]) AS repositories,
      '[]'::jsonb AS placements,
      CASE WHEN v.severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN') THEN v.severity END AS severity,
      jsonb_build_object(
        'exception', jsonb_build_object('id', d.id, 'vulnerability_id', d.vulnerability_id, 'repository', d.repository,
          'image_digest', d.image_digest, 'reason', d.reason, 'created_by', d.created_by, 'created_at', d.created_at,
          'expires_at', d.expires_at),
        'vulnerability', CASE WHEN v.id IS NULL THEN NULL ELSE jsonb_build_object('id', v.id, 'title', v.title, 'severity', v.severity) END,
        'expires_in_days', ceil(extract(epoch FROM d.expires_at - $1::timestamptz) / 86400)::int,
        'affected_images', COALESCE(a.n, 0),
        'repositories', to_jsonb(COALESCE(a.repositories, '{}'::text[]))
      ) AS payload
    FROM due d
    LEFT JOIN vulnerabilities v ON v.id = d.vulnerability_id
    LEFT JOIN LATERAL (
      SELECT count(DISTINCT s.image_digest)::int AS n,
        (array_agg(DISTINCT s.repository ORDER BY s.repository) FILTER (WHERE s.repository IS NOT NULL))[1:100] AS repositories
      FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id
      WHERE f.vulnerability_id = d.vulnerability_id
        AND (d.image_digest IS NULL OR s.image_digest = d.image_digest)
        AND (d.repository IS NULL OR s.repository ~ repository_glob_regex(d.repository))
    ) a ON true`;
  const sql = outboxStatement(due, candidate).replace(
    "SELECT (SELECT count(*) FROM jobs)::int AS jobs",
    "SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT n FROM marked) AS exceptions",
  );
  const { rows } = await q.query<{ jobs: number; exceptions: number }>(sql, [change.now, change.days]);
  const jobs = rows[0]?.jobs ?? 0;
  if (jobs > 0) await q.query("SELECT pg_notify($1, '')", [NOTIFICATION_CHANNEL]);
  return { exceptions: rows[0]?.exceptions ?? 0, jobs };
}

/** A violation that this transaction opened or resolved. */
export interface ViolationTransition {
  violationId: string;
  eventType: "runtime_violation.opened" | "runtime_violation.resolved";
}

/**
 * runtime_violation.opened / .resolved for violations this transaction has just opened or resolved (the result of
 * the reconciliation), in one statement: where it happened (cluster and namespace, for rules), the image's
 * repository and severity, and the violation as stored.
 */
export async function insertViolationEvents(q: Queryable, transitions: readonly ViolationTransition[], now: Date): Promise<number> {
  if (transitions.length === 0) return 0;
  const candidate = `
    SELECT gen_random_uuid() AS id, u.event_type, $3::timestamptz AS occurred_at, ${CHANGE_ID} AS change_id,
      v.id::text AS subject,
      CASE WHEN coalesce(s.repository, w.repository) IS NULL THEN '{}'::text[] ELSE ARRAY[coalesce(s.repository, w.repository)] END AS repositories,
      jsonb_build_array(jsonb_build_object('cluster', v.cluster, 'namespace', v.namespace)) AS placements,
      ${IMAGE_SEVERITY} AS severity,
      jsonb_build_object(
        'violation', jsonb_build_object('id', v.id::text, 'cluster', v.cluster, 'namespace', v.namespace, 'kind', v.kind,
          'name', v.name, 'container', v.container, 'image_digest', v.image_digest, 'image_ref', w.image_ref,
          'opened_at', v.opened_at, 'opened_cause', v.opened_cause, 'resolved_at', v.resolved_at,
          'resolved_cause', v.resolved_cause, 'resolution', v.resolution),
        'image', jsonb_build_object('digest', v.image_digest, 'repository', coalesce(s.repository, w.repository),
          'status', v.status, 'reasons', v.reasons, 'policy_version', v.policy_version,
          'is_compliant_now', s.is_compliant, 'status_now', s.status)
      ) AS payload
    FROM unnest($1::bigint[], $2::text[]) AS u(id, event_type)
    JOIN runtime_violations v ON v.id = u.id
    LEFT JOIN workload_containers w ON w.id = v.workload_container_id
    LEFT JOIN image_scans s ON s.image_digest = v.image_digest`;
  return runOutbox(q, outboxStatement("", candidate), [transitions.map((t) => t.violationId), transitions.map((t) => t.eventType), now]);
}
