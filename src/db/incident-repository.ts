/**
 * Incidents, their timelines and links (tables incidents, incident_notes, incident_links). Raw SQL through pg, like
 * the other repositories on the request path: the writes run inside the use case's transaction (a field change and
 * its timeline entry commit together), and the read of an incident's links joins their current state — verdicts,
 * exception states — from other aggregates in one statement.
 */
import type { IncidentFields, IncidentSeverity, IncidentStatus, LinkTarget, NoteKind } from "../domain/incident";
import type { Queryable } from "./queryable";

export interface IncidentRow extends IncidentFields {
  id: number;
  opened_at: Date;
  resolved_at: Date | null;
  updated_at: Date;
  created_by: string;
}

export interface IncidentListRow extends IncidentRow {
  link_count: number;
  note_count: number;
}

export interface NoteRow {
  id: number;
  incident_id: number;
  kind: NoteKind;
  author: string;
  created_at: Date;
  body: string;
  field: string | null;
  old_value: string | null;
  new_value: string | null;
}

export interface NewNote {
  incidentId: number;
  kind: NoteKind;
  author: string;
  at: Date;
  body: string;
  field?: string | null;
  oldValue?: string | null;
  newValue?: string | null;
}

/** A link with the current state of what it points at (null where the item is unknown to the registry). */
export interface LinkRow {
  id: number;
  incident_id: number;
  vulnerability_id: string | null;
  image_digest: string | null;
  repository: string | null;
  cluster: string | null;
  namespace: string | null;
  kind: string | null;
  name: string | null;
  violation_id: string | null;
  exception_id: string | null;
  created_by: string;
  created_at: Date;
}

export interface LinkState {
  /** image: its verdict; vulnerability / repository: how many images have it now and how many of them are blocked. */
  image_status: string | null;
  image_is_compliant: boolean | null;
  image_repository: string | null;
  image_tags: string[] | null;
  vulnerability_title: string | null;
  vulnerability_severity: string | null;
  images: number | null;
  non_compliant_images: number | null;
  exception_state: string | null;
  exception_vulnerability_id: string | null;
  exception_scope: string | null;
  exception_expires_at: Date | null;
  /** Containers running now: of the image, of the repository's images, of images with the vulnerability, of the workload. */
  running: number | null;
  /** Of those, how many run an image that is not compliant now (non-compliant, stale, not scanned and denied). */
  running_non_compliant: number | null;
  /** workload: the statuses of the images its containers run now. */
  workload_statuses: string[] | null;
  /** violation: open or resolved, and what it was about. */
  violation_state: string | null;
  violation_status: string | null;
  violation_opened_at: Date | null;
  violation_resolved_at: Date | null;
  violation_resolution: string | null;
  violation_image_digest: string | null;
  violation_workload: string | null;
  /** violation: whether its container still runs. */
  violation_still_running: boolean | null;
}

export type LinkWithState = LinkRow & LinkState;

const INCIDENT_COLUMNS = `id::int AS id, title, status, severity, owner, summary, root_cause, remediation, opened_at, resolved_at,
  updated_at, created_by`;
const linkColumns = (p = "") => `${p}id::int AS id, ${p}incident_id::int AS incident_id, ${p}vulnerability_id, ${p}image_digest,
  ${p}repository, ${p}cluster, ${p}namespace, ${p}kind, ${p}name, ${p}violation_id::text AS violation_id, ${p}exception_id,
  ${p}created_by, ${p}created_at`;
const LINK_COLUMNS = linkColumns();

export async function insertIncident(tx: Queryable, fields: IncidentFields, createdBy: string, now: Date): Promise<IncidentRow> {
  const { rows } = await tx.query<IncidentRow>(
    `INSERT INTO incidents (title, status, severity, owner, summary, root_cause, remediation, opened_at, resolved_at, updated_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $2 = 'resolved' THEN $8::timestamptz END, $8, $9)
     RETURNING ${INCIDENT_COLUMNS}`,
    [fields.title, fields.status, fields.severity, fields.owner, fields.summary, fields.root_cause, fields.remediation, now, createdBy],
  );
  return rows[0]!;
}

export async function findIncident(q: Queryable, id: number): Promise<IncidentRow | null> {
  const { rows } = await q.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The incident, locked until the transaction ends: writers of one incident queue, so its timeline has one order. */
export async function lockIncident(tx: Queryable, id: number): Promise<IncidentRow | null> {
  const { rows } = await tx.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ?? null;
}

export async function updateIncident(
  tx: Queryable,
  id: number,
  fields: IncidentFields & { resolved_at: Date | null },
  now: Date,
): Promise<IncidentRow> {
  const { rows } = await tx.query<IncidentRow>(
    `UPDATE incidents SET title = $2, status = $3, severity = $4, owner = $5, summary = $6, root_cause = $7, remediation = $8,
       resolved_at = $9, updated_at = $10
     WHERE id = $1 RETURNING ${INCIDENT_COLUMNS}`,
    [id, fields.title, fields.status, fields.severity, fields.owner, fields.summary, fields.root_cause, fields.remediation, fields.resolved_at, now],
  );
  return rows[0]!;
}

export async function touchIncident(tx: Queryable, id: number, now: Date): Promise<void> {
  await tx.query("UPDATE incidents SET updated_at = GREATEST(updated_at, $2) WHERE id = $1", [id, now]);
}

export async function insertNote(tx: Queryable, note: NewNote): Promise<NoteRow> {
  const { rows } = await tx.query<NoteRow>(
    `INSERT INTO incident_notes (incident_id, kind, author, created_at, body, field, old_value, new_value)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     RETURNING id::int AS id, incident_id::int AS incident_id, kind, author, created_at, body, field, old_value, new_value`,
    [note.incidentId, note.kind, note.author, note.at, note.body, note.field ?? null, note.oldValue ?? null, note.newValue ?? null],
  );
  return rows[0]!;
}

export async function listNotes(q: Queryable, incidentId: number, limit: number): Promise<NoteRow[]> {
  const { rows } = await q.query<NoteRow>(
    `SELECT id::int AS id, incident_id::int AS incident_id, kind, author, created_at, body, field, old_value, new_value
     FROM incident_notes WHERE incident_id = $1 ORDER BY id LIMIT $2`,
    [incidentId, limit],
  );
  return rows;
}

export interface IncidentFilter {
  statuses?: readonly IncidentStatus[];
  severities?: readonly IncidentSeverity[];
  limit: number;
  /** Keyset cursor: the last (smallest) ID of the previous page; the list runs newest first. */
  before?: number;
}

export async function listIncidents(q: Queryable, filter: IncidentFilter): Promise<{ items: IncidentListRow[]; nextCursor: number | null }> {
  const { rows } = await q.query<IncidentListRow>(
    `SELECT ${INCIDENT_COLUMNS},
       (SELECT count(*)::int FROM incident_links l WHERE l.incident_id = i.id) AS link_count,
       (SELECT count(*)::int FROM incident_notes n WHERE n.incident_id = i.id AND n.kind = 'note') AS note_count
     FROM incidents i
     WHERE ($1::text[] IS NULL OR status = ANY($1))
       AND ($2::text[] IS NULL OR severity = ANY($2))
       AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [filter.statuses?.length ? filter.statuses : null, filter.severities?.length ? filter.severities : null, filter.before ?? null, filter.limit + 1],
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? items[items.length - 1]!.id : null };
}

function targetColumns(t: LinkTarget): unknown[] {
  return [
    t.type === "vulnerability" ? t.vulnerabilityId : null,
    t.type === "image" ? t.imageDigest : null,
    t.type === "repository" ? t.repository : null,
    t.type === "workload" ? t.workload.cluster : null,
    t.type === "workload" ? t.workload.namespace : null,
    t.type === "workload" ? t.workload.kind : null,
    t.type === "workload" ? t.workload.name : null,
    t.type === "violation" ? t.violationId : null,
    t.type === "exception" ? t.exceptionId : null,
  ];
}

/** The same target, NULL-safe: `$2..$10` are the target's columns as targetColumns orders them. */
const SAME_TARGET = `vulnerability_id IS NOT DISTINCT FROM $2 AND image_digest IS NOT DISTINCT FROM $3
  AND repository IS NOT DISTINCT FROM $4 AND cluster IS NOT DISTINCT FROM $5 AND namespace IS NOT DISTINCT FROM $6
  AND kind IS NOT DISTINCT FROM $7 AND name IS NOT DISTINCT FROM $8 AND violation_id IS NOT DISTINCT FROM $9::bigint
  AND exception_id IS NOT DISTINCT FROM $10::uuid`;

/** Adds a link; null when the incident already has it (nothing written). */
export async function insertLink(tx: Queryable, incidentId: number, target: LinkTarget, by: string, now: Date): Promise<LinkRow | null> {
  const { rows } = await tx.query<LinkRow>(
    `INSERT INTO incident_links (incident_id, vulnerability_id, image_digest, repository, cluster, namespace, kind, name,
       violation_id, exception_id, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10::uuid, $11, $12)
     ON CONFLICT DO NOTHING RETURNING ${LINK_COLUMNS}`,
    [incidentId, ...targetColumns(target), by, now],
  );
  return rows[0] ?? null;
}

export async function findLink(q: Queryable, incidentId: number, target: LinkTarget): Promise<LinkRow | null> {
  const { rows } = await q.query<LinkRow>(`SELECT ${LINK_COLUMNS} FROM incident_links WHERE incident_id = $1 AND ${SAME_TARGET}`, [
    incidentId,
    ...targetColumns(target),
  ]);
  return rows[0] ?? null;
}

export async function deleteLink(tx: Queryable, incidentId: number, which: { target: LinkTarget } | { linkId: number }): Promise<LinkRow | null> {
  const { rows } =
    "linkId" in which
      ? await tx.query<LinkRow>(`DELETE FROM incident_links WHERE incident_id = $1 AND id = $2 RETURNING ${LINK_COLUMNS}`, [incidentId, which.linkId])
      : await tx.query<LinkRow>(`DELETE FROM incident_links WHERE incident_id = $1 AND ${SAME_TARGET} RETURNING ${LINK_COLUMNS}`, [
          incidentId,
          ...targetColumns(which.target),
        ]);
  return rows[0] ?? null;
}

export async function countLinks(q: Queryable, incidentId: number): Promise<number> {
  const { rows } = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM incident_links WHERE incident_id = $1", [incidentId]);
  return rows[0]!.n;
}

export async function exceptionExists(q: Queryable, id: string): Promise<boolean> {
  const { rows } = await q.query("SELECT 1 FROM policy_exceptions WHERE id = $1", [id]);
  return rows.length > 0;
}

export async function violationExists(q: Queryable, id: string): Promise<boolean> {
  const { rows } = await q.query("SELECT 1 FROM runtime_violations WHERE id = $1::bigint", [id]);
  return rows.length > 0;
}

/**
 * The incident's links with the current state of each item: an image's verdict; for a vulnerability or a repository,
 * the images whose current report has it (or that belong to it) and how many of those are not compliant; an
 * exception's state and scope; and what runs now (running_images): the containers of the image, of the repository,
 * of images with the vulnerability, of the workload, and whether a violation's container still runs. The same
 * predicates as the current_findings and running_images views and the exceptions API.
 */
export async function listLinksWithState(q: Queryable, incidentId: number, now: Date): Promise<LinkWithState[]> {
  const { rows } = await q.query<LinkWithState>(
    `SELECT ${linkColumns("l.")},
       s.status AS image_status, s.is_compliant AS image_is_compliant, s.repository AS image_repository, s.tags AS image_tags,
       v.title AS vulnerability_title, v.severity AS vulnerability_severity,
       coalesce(vi.images, ri.images) AS images, coalesce(vi.non_compliant, ri.non_compliant) AS non_compliant_images,
       CASE WHEN e.id IS NULL THEN NULL WHEN e.revoked_at IS NOT NULL THEN 'revoked'
            WHEN e.expires_at IS NOT NULL AND e.expires_at <= $2 THEN 'expired' ELSE 'active' END AS exception_state,
       e.vulnerability_id AS exception_vulnerability_id,
       CASE WHEN e.id IS NULL THEN NULL
            ELSE concat_ws(' @ ', e.repository, e.image_digest) END AS exception_scope,
       e.expires_at AS exception_expires_at,
       coalesce(ri_img.running, rr.running, rv.running, rw.running) AS running,
       coalesce(ri_img.non_compliant, rr.non_compliant, rv.non_compliant, rw.non_compliant) AS running_non_compliant,
       rw.statuses AS workload_statuses,
       CASE WHEN rvio.id IS NULL THEN NULL WHEN rvio.resolved_at IS NULL THEN 'open' ELSE 'resolved' END AS violation_state,
       rvio.status AS violation_status, rvio.opened_at AS violation_opened_at, rvio.resolved_at AS violation_resolved_at,
       rvio.resolution AS violation_resolution, rvio.image_digest AS violation_image_digest,
       CASE WHEN rvio.id IS NULL THEN NULL ELSE concat_ws('/', rvio.cluster, rvio.namespace, rvio.kind, rvio.name, rvio.container) END AS violation_workload,
       CASE WHEN rvio.id IS NULL THEN NULL ELSE wc.gone_at IS NULL END AS violation_still_running
     FROM incident_links l
     LEFT JOIN image_scans s ON s.image_digest = l.image_digest
     LEFT JOIN vulnerabilities v ON v.id = l.vulnerability_id
     LEFT JOIN policy_exceptions e ON e.id = l.exception_id
     LEFT JOIN LATERAL (
       SELECT count(DISTINCT s2.image_digest)::int AS images,
              count(DISTINCT s2.image_digest) FILTER (WHERE NOT s2.is_compliant)::int AS non_compliant
       FROM findings f JOIN image_scans s2 ON s2.latest_report_id = f.report_id
       WHERE f.vulnerability_id = l.vulnerability_id
     ) vi ON l.vulnerability_id IS NOT NULL
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS images, count(*) FILTER (WHERE NOT s3.is_compliant)::int AS non_compliant
       FROM image_scans s3 WHERE s3.repository = l.repository
     ) ri ON l.repository IS NOT NULL
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS running, count(*) FILTER (WHERE r.is_compliant IS NOT TRUE)::int AS non_compliant
       FROM running_images r WHERE r.image_digest = l.image_digest
     ) ri_img ON l.image_digest IS NOT NULL
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS running, count(*) FILTER (WHERE r.is_compliant IS NOT TRUE)::int AS non_compliant
       FROM running_images r WHERE r.repository = l.repository
     ) rr ON l.repository IS NOT NULL
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS running, count(*) FILTER (WHERE r.is_compliant IS NOT TRUE)::int AS non_compliant
       FROM running_images r
       WHERE EXISTS (SELECT 1 FROM findings f2 WHERE f2.report_id = r.latest_report_id AND f2.vulnerability_id = l.vulnerability_id)
     ) rv ON l.vulnerability_id IS NOT NULL
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS running, count(*) FILTER (WHERE r.is_compliant IS NOT TRUE)::int AS non_compliant,
              array_agg(DISTINCT r.status ORDER BY r.status) FILTER (WHERE r.status IS NOT NULL) AS statuses
       FROM running_images r WHERE r.cluster = l.cluster AND r.namespace = l.namespace AND r.kind = l.kind AND r.name = l.name
     ) rw ON l.cluster IS NOT NULL
     LEFT JOIN runtime_violations rvio ON rvio.id = l.violation_id
     LEFT JOIN workload_containers wc ON wc.id = rvio.workload_container_id
     WHERE l.incident_id = $1
     ORDER BY l.id`,
    [incidentId, now],
  );
  return rows;
}

export interface IncidentMention {
  id: number;
  title: string;
  status: IncidentStatus;
  severity: IncidentSeverity;
  opened_at: Date;
  /** How it is linked: image, repository or vulnerability. */
  via: string;
}

/**
 * Incidents linked to an image (directly or through its repository) or to a vulnerability, newest first: the image
 * and vulnerability pages list them.
 */
export async function findIncidentsLinkedTo(
  q: Queryable,
  item: { imageDigest?: string; repository?: string | null; vulnerabilityId?: string },
  limit = 50,
): Promise<IncidentMention[]> {
  const { rows } = await q.query<IncidentMention>(
    `SELECT i.id::int AS id, i.title, i.status, i.severity, i.opened_at,
       string_agg(DISTINCT CASE WHEN l.image_digest IS NOT NULL THEN 'image' WHEN l.repository IS NOT NULL THEN 'repository'
                                ELSE 'vulnerability' END, ', ') AS via
     FROM incident_links l JOIN incidents i ON i.id = l.incident_id
     WHERE ($1::text IS NOT NULL AND l.image_digest = $1)
        OR ($2::text IS NOT NULL AND l.repository = $2)
        OR ($3::text IS NOT NULL AND l.vulnerability_id = $3)
     GROUP BY i.id ORDER BY i.id DESC LIMIT $4`,
    [item.imageDigest ?? null, item.repository ?? null, item.vulnerabilityId ?? null, limit],
  );
  return rows;
}

/** A violation just opened, that an incident-opening rule matches, and one unexcepted CRITICAL vulnerability of its image. */
export interface CriticalViolation {
  violation_id: string;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  image_digest: string;
  repository: string | null;
  vulnerability_id: string;
  rule_name: string;
}

/**
 * For violations this transaction opened: those a rule with open_incident (subscribed to runtime_violation.opened)
 * matches by repository glob, cluster and namespace (the outbox's predicate; a CRITICAL passes any min_severity), each
 * with every distinct CRITICAL vulnerability of its image's current report that no exception covers and that is not
 * not_affected (the current_findings view).
 */
export async function findCriticalViolationsForIncidents(q: Queryable, violationIds: readonly string[]): Promise<CriticalViolation[]> {
  if (violationIds.length === 0) return [];
  const { rows } = await q.query<CriticalViolation>(
    `WITH v AS (
       SELECT v.id, v.cluster, v.namespace, v.kind, v.name, v.image_digest, coalesce(s.repository, w.repository) AS repository
       FROM runtime_violations v
       LEFT JOIN workload_containers w ON w.id = v.workload_container_id
       LEFT JOIN image_scans s ON s.image_digest = v.image_digest
       WHERE v.id = ANY($1::bigint[])),
     matched AS (
       SELECT DISTINCT ON (v.id) v.*, r.name AS rule_name
       FROM v JOIN notification_rules r ON r.open_incident AND r.events @> ARRAY['runtime_violation.opened']
         AND (r.repository IS NULL OR v.repository ~ repository_glob_regex(r.repository))
         AND (r.cluster IS NULL OR r.cluster = v.cluster) AND (r.namespace IS NULL OR r.namespace = v.namespace)
       ORDER BY v.id, r.created_at, r.id)
     SELECT DISTINCT m.id::text AS violation_id, m.cluster, m.namespace, m.kind, m.name, m.image_digest, m.repository, m.rule_name,
       f.vulnerability_id
     FROM matched m JOIN current_findings f ON f.image_digest = m.image_digest
     WHERE f.kind = 'vulnerability' AND f.severity = 'CRITICAL' AND NOT f.excepted AND coalesce(f.status, '') <> 'not_affected'
     ORDER BY m.cluster, f.vulnerability_id, violation_id`,
    [violationIds],
  );
  return rows;
}

/**
 * The unresolved incident that holds `autoKey`, opened now when there is none (the partial unique index decides
 * between concurrent transactions: the loser waits, then finds the winner's).
 */
export async function claimAutoIncident(
  tx: Queryable,
  autoKey: string,
  fields: Pick<IncidentFields, "title" | "severity" | "summary">,
  createdBy: string,
  now: Date,
): Promise<{ id: number; created: boolean }> {
  const inserted = await tx.query<{ id: number }>(
    `INSERT INTO incidents (title, status, severity, summary, opened_at, updated_at, created_by, auto_key)
     VALUES ($1, 'open', $2, $3, $4, $4, $5, $6)
     ON CONFLICT (auto_key) WHERE auto_key IS NOT NULL AND status <> 'resolved' DO NOTHING
     RETURNING id::int AS id`,
    [fields.title, fields.severity, fields.summary, now, createdBy, autoKey],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  const { rows } = await tx.query<{ id: number }>(
    `SELECT id::int AS id FROM incidents WHERE auto_key = $1 AND status <> 'resolved' FOR UPDATE`,
    [autoKey],
  );
  return { id: rows[0]!.id, created: false };
}
