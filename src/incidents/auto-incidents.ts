/**
 * Incidents that notification rules open (issue 15 item 2): when a runtime violation opens whose image has an
 * unexcepted CRITICAL vulnerability and a rule with `open_incident` matches it, the violation is tied to one incident
 * per vulnerability and cluster — opened for the first such violation, and the later ones (another workload, another
 * namespace, the same workload again) linked to it — until someone resolves it. Runs in the reconciling transaction,
 * beside the runtime_violation.opened events, so an incident exists exactly when its violation does.
 */
import { claimAutoIncident, countLinks, findCriticalViolationsForIncidents, insertLink, insertNote, touchIncident } from "../db/incident-repository";
import type { Queryable } from "../db/queryable";
import { describeLinkTarget, type LinkTarget } from "../domain/incident";
import { MAX_LINKS_PER_INCIDENT } from "./incident-service";

/** At most this many incidents (vulnerability × cluster) per reconciliation: an image with hundreds of CRITICALs must not flood. */
const MAX_AUTO_INCIDENTS_PER_CHANGE = 100;

export async function openIncidentsForViolations(tx: Queryable, opened: ReadonlyArray<{ id: string }>, now: Date): Promise<number> {
  if (opened.length === 0) return 0;
  const rows = await findCriticalViolationsForIncidents(tx, opened.map((v) => v.id));
  const groups = new Map<string, typeof rows>();
  for (const r of rows) {
    const key = `runtime-critical:${r.cluster}:${r.vulnerability_id}`;
    const group = groups.get(key);
    if (group) group.push(r);
    else if (groups.size < MAX_AUTO_INCIDENTS_PER_CHANGE) groups.set(key, [r]);
  }
  let created = 0;
  for (const [key, group] of groups) {
    const first = group[0]!;
    const author = `rule ${first.rule_name}`;
    const incident = await claimAutoIncident(
      tx,
      key,
      {
        title: `${first.vulnerability_id} running in cluster ${first.cluster}`.slice(0, 200),
        severity: "CRITICAL",
        summary: `Opened by the notification rule "${first.rule_name}": a runtime violation opened in cluster \`${first.cluster}\` for an image with the CRITICAL vulnerability ${first.vulnerability_id}. Later violations with it in this cluster are linked here until the incident is resolved.`,
      },
      author,
      now,
    );
    if (incident.created) {
      created++;
      await insertNote(tx, { incidentId: incident.id, kind: "opened", author, at: now, body: "opened the incident (CRITICAL, open) for a runtime violation" });
    }
    const targets: LinkTarget[] = [{ type: "vulnerability", vulnerabilityId: first.vulnerability_id }];
    for (const v of group)
      targets.push(
        { type: "violation", violationId: v.violation_id },
        { type: "workload", workload: { cluster: v.cluster, namespace: v.namespace, kind: v.kind, name: v.name } },
        { type: "image", imageDigest: v.image_digest },
      );
    let linked = 0;
    let room = MAX_LINKS_PER_INCIDENT - (await countLinks(tx, incident.id));
    for (const target of targets) {
      if (room <= 0) break; // a full incident keeps its links; the violation is still in the outbox event
      room--;
      if (!(await insertLink(tx, incident.id, target, author, now))) {
        room++;
        continue;
      }
      linked++;
      await insertNote(tx, { incidentId: incident.id, kind: "link_added", author, at: now, body: `linked ${describeLinkTarget(target)}` });
    }
    if (linked > 0) await touchIncident(tx, incident.id, now);
  }
  return created;
}
