import type { Pool } from "pg";
import {
  countLinks,
  deleteLink,
  exceptionExists,
  findIncident,
  findIncidentsLinkedTo,
  findLink,
  insertIncident,
  insertLink,
  insertNote,
  listIncidents,
  listLinksWithState,
  listNotes,
  lockIncident,
  touchIncident,
  updateIncident,
  violationExists,
  type IncidentFilter,
  type IncidentListRow,
  type IncidentMention,
  type IncidentRow,
  type LinkRow,
  type LinkWithState,
  type NoteRow,
} from "../db/incident-repository";
import { inTransaction, type Queryable } from "../db/queryable";
import { conflict, invalid, notFound } from "../domain/errors";
import {
  describeChange,
  describeLinkTarget,
  diffIncident,
  resolvedAtAfter,
  type FieldChange,
  type IncidentFields,
  type LinkTarget,
} from "../domain/incident";

/** Bounds that keep one incident readable in one answer. */
export const MAX_LINKS_PER_INCIDENT = 200;
const MAX_TIMELINE_ENTRIES = 5000;

export interface NewIncident extends Partial<Omit<IncidentFields, "title" | "severity">> {
  title: string;
  severity: IncidentFields["severity"];
  /** Items it concerns, linked at once (each also a timeline entry). */
  links?: readonly LinkTarget[];
}

export interface IncidentDetail {
  incident: IncidentRow;
  timeline: NoteRow[];
  links: LinkWithState[];
}

const linkNotFound = (target: LinkTarget | { linkId: number }) =>
  notFound("incident_link_not_found", `The incident has no link to ${"linkId" in target ? `link ${target.linkId}` : describeLinkTarget(target)}.`);

/**
 * Incidents: opening, changing, noting and linking. Every change is written with its timeline entry (author = the
 * token's name, time = the service clock) in one transaction, under a row lock on the incident, so the timeline is
 * complete and in one order; nothing in the timeline is ever rewritten.
 */
export class IncidentService {
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date,
  ) {}

  async open(input: NewIncident, author: string): Promise<IncidentDetail> {
    const links = dedupeTargets(input.links ?? []);
    if (links.length > MAX_LINKS_PER_INCIDENT)
      throw invalid("invalid_request", "The request body is invalid.", [{ path: "body.links", message: `at most ${MAX_LINKS_PER_INCIDENT} links` }]);
    const id = await inTransaction(this.pool, async (tx) => {
      const now = this.clock();
      const fields: IncidentFields = {
        title: input.title,
        status: input.status ?? "open",
        severity: input.severity,
        owner: input.owner ?? null,
        summary: input.summary ?? null,
        root_cause: input.root_cause ?? null,
        remediation: input.remediation ?? null,
      };
      const incident = await insertIncident(tx, fields, author, now);
      await insertNote(tx, {
        incidentId: incident.id,
        kind: "opened",
        author,
        at: now,
        body: `opened the incident (${fields.severity}, ${fields.status}${fields.owner ? `, owner ${fields.owner}` : ""})`,
      });
      for (const [i, target] of links.entries()) await this.link(tx, incident.id, target, author, now, `body.links.${i}`);
      return incident.id;
    });
    return this.get(id);
  }

  /** Applies the changed fields; each becomes one timeline entry. A patch that changes nothing writes nothing. */
  async update(id: number, patch: Partial<IncidentFields>, author: string): Promise<IncidentDetail & { changes: FieldChange[] }> {
    const changes = await inTransaction(this.pool, async (tx) => {
      const current = await this.locked(tx, id);
      const changes = diffIncident(current, patch);
      if (changes.length === 0) return changes;
      const now = this.clock();
      const next: IncidentFields = { ...current };
      for (const c of changes) (next as unknown as Record<string, string | null>)[c.field] = c.to;
      await updateIncident(tx, id, { ...next, resolved_at: resolvedAtAfter(next.status, current.status === "resolved" ? current.resolved_at : null, now) }, now);
      for (const change of changes)
        await insertNote(tx, { incidentId: id, kind: "change", author, at: now, body: describeChange(change), field: change.field, oldValue: change.from, newValue: change.to });
      return changes;
    });
    return { ...(await this.get(id)), changes };
  }

  async addNote(id: number, body: string, author: string): Promise<NoteRow> {
    return inTransaction(this.pool, async (tx) => {
      await this.locked(tx, id);
      const now = this.clock();
      const note = await insertNote(tx, { incidentId: id, kind: "note", author, at: now, body });
      await touchIncident(tx, id, now);
      return note;
    });
  }

  /** Links an item; linking one already linked changes nothing and answers the existing link (`created: false`). */
  async addLink(id: number, target: LinkTarget, author: string): Promise<{ link: LinkRow; created: boolean }> {
    return inTransaction(this.pool, async (tx) => {
      await this.locked(tx, id);
      const existing = await findLink(tx, id, target);
      if (existing) return { link: existing, created: false };
      if ((await countLinks(tx, id)) >= MAX_LINKS_PER_INCIDENT)
        throw conflict("too_many_links", `An incident has at most ${MAX_LINKS_PER_INCIDENT} links; remove one first.`);
      const link = await this.link(tx, id, target, author, this.clock(), "body");
      return { link, created: true };
    });
  }

  async removeLink(id: number, which: { target: LinkTarget } | { linkId: number }, author: string): Promise<LinkRow> {
    return inTransaction(this.pool, async (tx) => {
      await this.locked(tx, id);
      const removed = await deleteLink(tx, id, which);
      if (!removed) throw linkNotFound("linkId" in which ? which : which.target);
      const now = this.clock();
      await insertNote(tx, { incidentId: id, kind: "link_removed", author, at: now, body: `unlinked ${describeLinkTarget(targetOf(removed))}` });
      await touchIncident(tx, id, now);
      return removed;
    });
  }

  list(filter: IncidentFilter): Promise<{ items: IncidentListRow[]; nextCursor: number | null }> {
    return listIncidents(this.pool, filter);
  }

  /** The incident with its whole timeline and its links, each with the current state of what it points at. */
  async get(id: number): Promise<IncidentDetail> {
    const incident = await findIncident(this.pool, id);
    if (!incident) throw notFound("incident_not_found", `No incident ${id}.`);
    const [timeline, links] = await Promise.all([listNotes(this.pool, id, MAX_TIMELINE_ENTRIES), listLinksWithState(this.pool, id, this.clock())]);
    return { incident, timeline, links };
  }

  linkedTo(item: { imageDigest?: string; repository?: string | null; vulnerabilityId?: string }): Promise<IncidentMention[]> {
    return findIncidentsLinkedTo(this.pool, item);
  }

  private async locked(tx: Queryable, id: number): Promise<IncidentRow> {
    const row = await lockIncident(tx, id);
    if (!row) throw notFound("incident_not_found", `No incident ${id}.`);
    return row;
  }

  private async link(tx: Queryable, id: number, target: LinkTarget, author: string, now: Date, path: string): Promise<LinkRow> {
    if (target.type === "exception" && !(await exceptionExists(tx, target.exceptionId)))
      throw invalid("unknown_link_target", `No exception ${target.exceptionId}.`, [{ path: `${path}.exception_id`, message: "no such exception" }]);
    if (target.type === "violation") {
      if (!(await violationExists(tx, target.violationId)))
        throw invalid("unknown_link_target", `No runtime violation ${target.violationId}.`, [{ path: `${path}.violation_id`, message: "no such runtime violation" }]);
    }
    const link = await insertLink(tx, id, target, author, now);
    // A concurrent request linked it first (the incident lock makes this rare): the same answer as an existing link.
    if (!link) return (await findLink(tx, id, target))!;
    await insertNote(tx, { incidentId: id, kind: "link_added", author, at: now, body: `linked ${describeLinkTarget(target)}` });
    await touchIncident(tx, id, now);
    return link;
  }
}

/** The target a stored link points at. */
export function targetOf(link: LinkRow): LinkTarget {
  if (link.vulnerability_id !== null) return { type: "vulnerability", vulnerabilityId: link.vulnerability_id };
  if (link.image_digest !== null) return { type: "image", imageDigest: link.image_digest };
  if (link.repository !== null) return { type: "repository", repository: link.repository };
  if (link.cluster !== null) return { type: "workload", workload: { cluster: link.cluster, namespace: link.namespace!, kind: link.kind!, name: link.name! } };
  if (link.violation_id !== null) return { type: "violation", violationId: link.violation_id };
  return { type: "exception", exceptionId: link.exception_id! };
}

function dedupeTargets(targets: readonly LinkTarget[]): LinkTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = describeLinkTarget(t);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
