/**
 * Notification destinations and rules: plain single-row reads and writes, in raw SQL (pg) like the rest of the
 * notification data, so that the one column that must never leave the delivery path — `secret` — is selected in
 * exactly one function (findDestinationWithSecret) and nowhere else.
 */
import type { DestinationType, DestinationWithSecret, NotificationDestination, NotificationEventType, NotificationRule } from "../domain/notification";
import type { Severity } from "../domain/severity";
import type { Queryable } from "./queryable";


interface DestinationRow {
  id: string;
  name: string;
  type: DestinationType;
  url: string;
  has_secret: boolean;
  created_at: Date;
  created_by: string | null;
}

const DESTINATION_COLUMNS = "id, name, type, url, secret IS NOT NULL AS has_secret, created_at, created_by";

function toDestination(r: DestinationRow): NotificationDestination {
  return { id: r.id, name: r.name, type: r.type, url: r.url, hasSecret: r.has_secret, createdAt: r.created_at, createdBy: r.created_by };
}

export interface NewDestination {
  name: string;
  type: DestinationType;
  url: string;
  secret: string | null;
  createdBy: string | null;
}

/** Stores a destination; null when the name is taken. */
export async function insertDestination(q: Queryable, d: NewDestination, now: Date): Promise<NotificationDestination | null> {
  const { rows } = await q.query<DestinationRow>(
    `INSERT INTO notification_destinations (name, type, url, secret, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO NOTHING RETURNING ${DESTINATION_COLUMNS}`,
    [d.name, d.type, d.url, d.secret, now, d.createdBy],
  );
  return rows[0] ? toDestination(rows[0]) : null;
}

export async function listDestinations(q: Queryable): Promise<NotificationDestination[]> {
  const { rows } = await q.query<DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM notification_destinations ORDER BY name, id`);
  return rows.map(toDestination);
}

/** The destination with its secret, for signing a message. Only the delivery path and the test send call this. */
export async function findDestinationWithSecret(q: Queryable, id: string): Promise<DestinationWithSecret | null> {
  const { rows } = await q.query<DestinationRow & { secret: string | null }>(
    `SELECT ${DESTINATION_COLUMNS}, secret FROM notification_destinations WHERE id = $1`,
    [id],
  );
  return rows[0] ? { ...toDestination(rows[0]), secret: rows[0].secret } : null;
}

/** Deletes a destination with its rules and undelivered jobs (ON DELETE CASCADE); its attempts stay recorded. */
export async function deleteDestination(q: Queryable, id: string): Promise<NotificationDestination | null> {
  const { rows } = await q.query<DestinationRow>(`DELETE FROM notification_destinations WHERE id = $1 RETURNING ${DESTINATION_COLUMNS}`, [id]);
  return rows[0] ? toDestination(rows[0]) : null;
}

interface RuleRow {
  id: string;
  name: string;
  destination_id: string;
  destination_name: string;
  destination_type: DestinationType;
  events: NotificationEventType[];
  repository: string | null;
  cluster: string | null;
  namespace: string | null;
  min_severity: Severity | null;
  open_incident: boolean;
  created_at: Date;
  created_by: string | null;
}

function toRule(r: RuleRow): NotificationRule {
  return {
    id: r.id,
    name: r.name,
    destinationId: r.destination_id,
    destinationName: r.destination_name,
    destinationType: r.destination_type,
    events: r.events,
    repository: r.repository,
    cluster: r.cluster,
    namespace: r.namespace,
    minSeverity: r.min_severity,
    openIncident: r.open_incident,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

const RULE_SELECT = `SELECT r.id, r.name, r.destination_id, d.name AS destination_name, d.type AS destination_type, r.events,
  r.repository, r.cluster, r.namespace, r.min_severity, r.open_incident, r.created_at, r.created_by
  FROM notification_rules r JOIN notification_destinations d ON d.id = r.destination_id`;

export interface NewRule {
  name: string;
  destinationId: string;
  events: NotificationEventType[];
  repository: string | null;
  cluster: string | null;
  namespace: string | null;
  minSeverity: Severity | null;
  openIncident?: boolean | undefined;
  createdBy: string | null;
}

/** Stores a rule; null when its destination does not exist (checked in the same statement, which locks it). */
export async function insertRule(q: Queryable, rule: NewRule, now: Date): Promise<NotificationRule | null> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO notification_rules (name, destination_id, events, repository, cluster, namespace, min_severity, created_at, created_by, open_incident)
     SELECT $1, d.id, $3, $4, $5, $6, $7, $8, $9, $10 FROM notification_destinations d WHERE d.id = $2 FOR KEY SHARE
     RETURNING id`,
    [rule.name, rule.destinationId, rule.events, rule.repository, rule.cluster, rule.namespace, rule.minSeverity, now, rule.createdBy, rule.openIncident ?? false],
  );
  if (!rows[0]) return null;
  const stored = await q.query<RuleRow>(`${RULE_SELECT} WHERE r.id = $1`, [rows[0].id]);
  return stored.rows[0] ? toRule(stored.rows[0]) : null;
}

export async function listRules(q: Queryable): Promise<NotificationRule[]> {
  const { rows } = await q.query<RuleRow>(`${RULE_SELECT} ORDER BY r.name, r.id`);
  return rows.map(toRule);
}

export async function deleteRule(q: Queryable, id: string): Promise<NotificationRule | null> {
  const { rows } = await q.query<RuleRow>(
    `WITH gone AS (DELETE FROM notification_rules WHERE id = $1 RETURNING *)
     SELECT g.id, g.name, g.destination_id, d.name AS destination_name, d.type AS destination_type, g.events, g.repository,
       g.cluster, g.namespace, g.min_severity, g.open_incident, g.created_at, g.created_by
     FROM gone g JOIN notification_destinations d ON d.id = g.destination_id`,
    [id],
  );
  return rows[0] ? toRule(rows[0]) : null;
}
