/**
 * Incidents: the security team's record of something that went wrong, kept beside the scan results. Pure values and
 * rules; storage is src/db/incident-repository.ts, the use cases src/incidents/.
 */
import { SEVERITIES, type Severity } from "./severity";

export const INCIDENT_STATUSES = ["open", "investigating", "mitigated", "resolved"] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** Severities of an incident: the same five as findings, so "CRITICAL incident" means what it means everywhere. */
export const INCIDENT_SEVERITIES = SEVERITIES;
export type IncidentSeverity = Severity;

/** The fields a PATCH may change; each change becomes one timeline entry. */
const INCIDENT_FIELDS = ["title", "status", "severity", "owner", "summary", "root_cause", "remediation"] as const;
export type IncidentField = (typeof INCIDENT_FIELDS)[number];

export const NOTE_KINDS = ["opened", "note", "change", "link_added", "link_removed"] as const;
export type NoteKind = (typeof NOTE_KINDS)[number];

export interface Workload {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
}

/** What an incident may be linked to: exactly one item. */
export type LinkTarget =
  | { type: "vulnerability"; vulnerabilityId: string }
  | { type: "image"; imageDigest: string }
  | { type: "repository"; repository: string }
  | { type: "workload"; workload: Workload }
  | { type: "violation"; violationId: string }
  | { type: "exception"; exceptionId: string };

export type LinkType = LinkTarget["type"];

export interface IncidentFields {
  title: string;
  status: IncidentStatus;
  severity: IncidentSeverity;
  owner: string | null;
  summary: string | null;
  root_cause: string | null;
  remediation: string | null;
}

export interface FieldChange {
  field: IncidentField;
  from: string | null;
  to: string | null;
}

/** The changes a patch makes to an incident, in the order of INCIDENT_FIELDS; fields set to their value are no change. */
export function diffIncident(current: IncidentFields, patch: Partial<IncidentFields>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of INCIDENT_FIELDS) {
    if (!(field in patch) || patch[field] === undefined) continue;
    const to = (patch[field] ?? null) as string | null;
    const from = current[field] as string | null;
    if (to !== from) changes.push({ field, from, to });
  }
  return changes;
}

/**
 * `resolved_at` after a status change: set when an incident becomes resolved, kept while it stays resolved, cleared
 * when it is reopened (so that resolved_at - opened_at is always the time to the latest resolution).
 */
export function resolvedAtAfter(status: IncidentStatus, previous: Date | null, now: Date): Date | null {
  if (status !== "resolved") return null;
  return previous ?? now;
}

/** A one-line description of a link target, for the timeline and the CLI. */
export function describeLinkTarget(target: LinkTarget): string {
  switch (target.type) {
    case "vulnerability":
      return `vulnerability ${target.vulnerabilityId}`;
    case "image":
      return `image ${target.imageDigest}`;
    case "repository":
      return `repository ${target.repository}`;
    case "workload": {
      const w = target.workload;
      return `workload ${w.cluster}/${w.namespace}/${w.kind}/${w.name}`;
    }
    case "violation":
      return `runtime violation ${target.violationId}`;
    case "exception":
      return `exception ${target.exceptionId}`;
  }
}

const SHORT_VALUE = 80;

/** The generated body of a change entry: short values inline, long Markdown fields only named. */
export function describeChange(change: FieldChange): string {
  const label = change.field.replace("_", " ");
  const show = (v: string | null) => (v === null || v === "" ? "(empty)" : v.length <= SHORT_VALUE && !v.includes("\n") ? `“${v}”` : null);
  const from = show(change.from);
  const to = show(change.to);
  if (from !== null && to !== null) return `changed ${label} from ${from} to ${to}`;
  return change.to === null || change.to === "" ? `cleared ${label}` : `updated ${label}`;
}
