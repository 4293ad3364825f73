import type { IncidentListRow, IncidentMention, IncidentRow, LinkWithState, NoteRow } from "../../db/incident-repository";
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES, type IncidentStatus } from "../../domain/incident";
import { targetOf } from "../../incidents/incident-service";
import { href, html, type Renderable, type SafeHtml } from "../html";
import { csrfField, errorList, severityBadge, statusBadge, type ViewContext } from "./components";
import { shortDigest, time } from "./format";
import { renderMarkdown } from "./markdown";

export type FormValues = Record<string, string | undefined>;
export type FormErrors = ReadonlyArray<{ path: string; message: string }>;

const STATUS_LABEL: Record<IncidentStatus, string> = {
  open: "Open",
  investigating: "Investigating",
  mitigated: "Mitigated",
  resolved: "Resolved",
};

export function incidentStatusBadge(status: IncidentStatus): SafeHtml {
  return html`<span class="badge incident-${status}">${STATUS_LABEL[status] ?? status}</span>`;
}

/** The incidents linked to an image or a vulnerability, with a way to open one about it (for writers). */
export function incidentMentions(ctx: ViewContext, mentions: readonly IncidentMention[], openWith: Record<string, string>, about: string): SafeHtml {
  return html`<section class="card" aria-labelledby="incidents-h">
  <h2 id="incidents-h">Incidents <span class="count">${mentions.length}</span></h2>
  ${
    mentions.length === 0
      ? html`<p class="muted">No incident is linked to ${about}.</p>`
      : html`<ul class="incident-mentions">${mentions.map(
          (m) => html`<li><a href="/ui/incidents/${m.id}">#${m.id} ${m.title}</a> ${severityBadge(m.severity)} ${incidentStatusBadge(m.status)}
            <span class="muted small">via ${m.via}, opened ${time(m.opened_at)}</span></li>`,
        )}</ul>`
  }
  ${ctx.canWrite ? html`<p><a class="button secondary" href="${href("/ui/incidents/new", openWith)}">Open an incident about ${about}</a></p>` : ""}
</section>`;
}

const select = (name: string, id: string, options: readonly string[], value: string | undefined, labels: Record<string, string> = {}, blank?: string) =>
  html`<select id="${id}" name="${name}">${blank !== undefined ? html`<option value="">${blank}</option>` : ""}${options.map(
    (o) => html`<option value="${o}"${o === value ? html` selected` : ""}>${labels[o] ?? o}</option>`,
  )}</select>`;

/** The list's filters: status tabs (active = not resolved) and a severity choice. */
export function incidentList(
  ctx: ViewContext,
  o: { rows: readonly IncidentListRow[]; view: string; severity: string | undefined; nextHref: string | null; firstHref: string | null },
): SafeHtml {
  const views = [
    { key: "active", label: "Not resolved" },
    ...INCIDENT_STATUSES.map((s) => ({ key: s, label: STATUS_LABEL[s] })),
    { key: "all", label: "All" },
  ];
  return html`
<div class="page-head"><h1>Incidents</h1>
  <p class="muted">What went wrong, who owns it, and what it concerns — with a timeline of every change.</p>
  ${ctx.canWrite ? html`<p><a class="button primary" href="/ui/incidents/new">Open an incident</a></p>` : ""}</div>
<nav class="tabs" aria-label="Incident status">${views.map(
    (v) => html`<a href="${href("/ui/incidents", { view: v.key === "active" ? undefined : v.key, severity: o.severity })}"${v.key === o.view ? html` aria-current="page"` : ""}>${v.label}</a>`,
  )}</nav>
<form class="filters card" method="get" action="/ui/incidents" aria-label="Filter incidents">
  ${o.view !== "active" ? html`<input type="hidden" name="view" value="${o.view}">` : ""}
  <div class="field"><label for="f-severity">Severity</label>${select("severity", "f-severity", INCIDENT_SEVERITIES, o.severity, {}, "Any severity")}</div>
  <div class="field actions"><button type="submit" class="button primary">Apply</button>
    ${o.severity ? html`<a class="button secondary" href="${href("/ui/incidents", { view: o.view === "active" ? undefined : o.view })}">Clear</a>` : ""}</div>
</form>
${
  o.rows.length === 0
    ? html`<p class="empty card">No incidents${o.view !== "all" || o.severity ? " match these filters" : " yet"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table incidents-table">
  <thead><tr><th scope="col">#</th><th scope="col">Title</th><th scope="col">Severity</th><th scope="col">Status</th>
    <th scope="col">Owner</th><th scope="col">Opened</th><th scope="col" class="num">Links</th><th scope="col" class="num">Notes</th></tr></thead>
  <tbody>${o.rows.map(
    (r) => html`<tr><td>${r.id}</td><th scope="row"><a href="/ui/incidents/${r.id}">${r.title}</a></th><td>${severityBadge(r.severity)}</td>
      <td>${incidentStatusBadge(r.status)}</td><td>${r.owner ?? html`<span class="muted">—</span>`}</td><td>${time(r.opened_at)}</td>
      <td class="num">${r.link_count}</td><td class="num">${r.note_count}</td></tr>`,
  )}</tbody></table></div>`
}
<nav class="pager" aria-label="Pagination">${o.firstHref ? html`<a class="button secondary" href="${o.firstHref}">« Newest</a>` : ""}${
    o.nextHref ? html`<a class="button secondary" href="${o.nextHref}" rel="next">Older ›</a>` : ""
  }</nav>`;
}

const LINK_TYPES = [
  { key: "vulnerability_id", label: "Vulnerability ID", placeholder: "CVE-2024-3094" },
  { key: "image_digest", label: "Image digest", placeholder: "sha256:…" },
  { key: "repository", label: "Repository", placeholder: "ghcr.io/acme/api" },
  { key: "workload", label: "Workload (cluster/namespace/kind/name)", placeholder: "prod/shop/Deployment/api" },
  { key: "violation_id", label: "Runtime violation ID", placeholder: "42" },
  { key: "exception_id", label: "Exception ID", placeholder: "UUID" },
] as const;
export const LINK_TYPE_KEYS = LINK_TYPES.map((t) => t.key);

function linkFields(values: FormValues, prefix = ""): SafeHtml {
  const type = values[`${prefix}link_type`] ?? "vulnerability_id";
  return html`<div class="field"><label for="${prefix}link-type">Item</label>${select(
    `${prefix}link_type`,
    `${prefix}link-type`,
    LINK_TYPES.map((t) => t.key),
    type,
    Object.fromEntries(LINK_TYPES.map((t) => [t.key, t.label])),
  )}</div>
  <div class="field grow"><label for="${prefix}link-value">Value</label>
    <input id="${prefix}link-value" name="${prefix}link_value" value="${values[`${prefix}link_value`] ?? ""}" maxlength="600" placeholder="CVE-2024-3094, sha256:…, ghcr.io/acme/api, prod/shop/Deployment/api">
  </div>`;
}

/** The form that opens an incident; a link to the item the page came from is prefilled. */
export function openIncidentForm(ctx: ViewContext, o: { values: FormValues; errors: FormErrors }): SafeHtml {
  const v = o.values;
  return html`
<nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/incidents">Incidents</a> <span aria-hidden="true">›</span> <span>New</span></nav>
<div class="page-head"><h1>Open an incident</h1></div>
<form method="post" action="/ui/incidents" class="card stack" aria-label="Open an incident">
  ${errorList(o.errors)}
  ${csrfField(ctx)}
  <div class="field"><label for="i-title">Title <span class="required">(required)</span></label>
    <input id="i-title" name="title" required maxlength="200" value="${v.title ?? ""}"></div>
  <div class="field"><label for="i-severity">Severity</label>${select("severity", "i-severity", INCIDENT_SEVERITIES, v.severity ?? "HIGH")}</div>
  <div class="field"><label for="i-owner">Owner <span class="help">(optional)</span></label>
    <input id="i-owner" name="owner" maxlength="200" value="${v.owner ?? ""}"></div>
  <div class="field"><label for="i-summary">Summary <span class="help">(Markdown, optional)</span></label>
    <textarea id="i-summary" name="summary" rows="5" maxlength="65536">${v.summary ?? ""}</textarea></div>
  <fieldset><legend>Concerns <span class="help">(optional; more can be linked later)</span></legend>${linkFields(v)}</fieldset>
  <button type="submit" class="button primary">Open incident</button>
</form>`;
}

function linkDescription(l: LinkWithState): SafeHtml {
  const t = targetOf(l);
  switch (t.type) {
    case "image":
      return html`Image <a href="/ui/images/${t.imageDigest}">${l.image_repository ?? ""} ${shortDigest(t.imageDigest)}</a>`;
    case "vulnerability":
      return html`Vulnerability <a href="/ui/vulnerabilities/${encodeURIComponent(t.vulnerabilityId)}">${t.vulnerabilityId}</a>${
        l.vulnerability_title ? html` <span class="muted">${l.vulnerability_title}</span>` : ""
      }`;
    case "repository":
      return html`Repository <a href="${href("/ui/images", { repository: t.repository })}">${t.repository}</a>`;
    case "workload":
      return html`Workload <code>${t.workload.cluster}/${t.workload.namespace}/${t.workload.kind}/${t.workload.name}</code>`;
    case "violation":
      return html`Runtime violation <code>${t.violationId}</code>`;
    case "exception":
      return html`Exception <a href="${href("/ui/exceptions", { state: "all" })}"><code>${t.exceptionId}</code></a>${
        l.exception_vulnerability_id ? html` for ${l.exception_vulnerability_id}` : ""
      }`;
  }
}

function runningNow(l: LinkWithState): Renderable {
  if (l.running === null) return "";
  if (l.running === 0) return html`<div class="muted small">not running anywhere now</div>`;
  return html`<div class="small">runs in ${l.running} container${l.running === 1 ? "" : "s"} now${l.running_non_compliant ? html`, <strong>${l.running_non_compliant} not compliant</strong>` : ""}</div>`;
}

function linkState(l: LinkWithState): Renderable {
  const t = targetOf(l);
  switch (t.type) {
    case "image":
      return html`${statusBadge(l.image_status ?? "not_scanned")}${runningNow(l)}`;
    case "vulnerability":
    case "repository":
      return html`${
        l.images ? html`${l.images} image${l.images === 1 ? "" : "s"} now, ${l.non_compliant_images ?? 0} not compliant` : html`<span class="muted">no image has it now</span>`
      }${runningNow(l)}`;
    case "workload":
      return (l.running ?? 0) > 0
        ? html`${(l.workload_statuses ?? []).map((st) => html`${statusBadge(st)} `)}${runningNow(l)}`
        : html`<span class="muted">not running now</span>`;
    case "violation":
      return l.violation_state
        ? html`<span class="badge ${l.violation_state === "open" ? "badge-non_compliant" : "badge-compliant"}">${l.violation_state === "open" ? "Open" : "Resolved"}</span>
            <div class="small">${l.violation_workload ?? ""} ${l.violation_image_digest ? shortDigest(l.violation_image_digest) : ""}</div>
            <div class="muted small">since ${time(l.violation_opened_at)}${l.violation_resolved_at ? html`, resolved ${time(l.violation_resolved_at)} (${l.violation_resolution ?? ""})` : ""}; ${
              l.violation_still_running ? "still running" : "no longer running"
            }</div>`
        : html`<span class="muted">unknown</span>`;
    case "exception":
      return l.exception_state ? html`<span class="badge badge-exc-${l.exception_state}">${l.exception_state}</span> ${l.exception_scope || "everywhere"}` : html`<span class="muted">unknown</span>`;
  }
}

function timelineEntry(n: NoteRow): SafeHtml {
  const head = html`<div class="entry-head"><strong>${n.author}</strong> <span class="muted small">${time(n.created_at)}</span></div>`;
  if (n.kind === "note") return html`<li class="entry entry-note">${head}${renderMarkdown(n.body)}</li>`;
  return html`<li class="entry entry-${n.kind}">${head}<p class="muted">${n.body}</p></li>`;
}

function markdownSection(title: string, id: string, text: string | null): SafeHtml {
  return html`<section class="card" aria-labelledby="${id}"><h2 id="${id}">${title}</h2>${text ? renderMarkdown(text) : html`<p class="muted">Not written yet.</p>`}</section>`;
}

/** One incident: its fields, what it concerns (with current verdicts), its timeline; the forms for writers only. */
export function incidentPage(
  ctx: ViewContext,
  o: { incident: IncidentRow; timeline: readonly NoteRow[]; links: readonly LinkWithState[]; errors: FormErrors; values: FormValues; form?: string },
): SafeHtml {
  const i = o.incident;
  const base = `/ui/incidents/${i.id}`;
  const errorsFor = (form: string) => (o.form === form ? o.errors : []);
  const valuesFor = (form: string): FormValues => (o.form === form ? o.values : {});
  const edit = { ...i, ...valuesFor("edit") } as FormValues & typeof i;
  return html`
<nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/incidents">Incidents</a> <span aria-hidden="true">›</span> <span>#${i.id}</span></nav>
<div class="page-head"><h1>#${i.id} ${i.title} ${severityBadge(i.severity)} ${incidentStatusBadge(i.status)}</h1></div>
<div class="grid-2">
  <section class="card" aria-labelledby="facts-h"><h2 id="facts-h">Details</h2>
    <dl class="facts">
      <dt>Owner</dt><dd>${i.owner ?? "—"}</dd>
      <dt>Opened</dt><dd>${time(i.opened_at)} by ${i.created_by}</dd>
      <dt>Resolved</dt><dd>${time(i.resolved_at, "not resolved")}</dd>
      <dt>Last change</dt><dd>${time(i.updated_at)}</dd>
    </dl>
  </section>
  ${markdownSection("Summary", "summary-h", i.summary)}
</div>
<div class="grid-2">
  ${markdownSection("Root cause", "cause-h", i.root_cause)}
  ${markdownSection("Remediation", "fix-h", i.remediation)}
</div>
<section class="card" aria-labelledby="links-h"><h2 id="links-h">What it concerns <span class="count">${o.links.length}</span></h2>
  ${
    o.links.length === 0
      ? html`<p class="muted">Nothing linked yet.</p>`
      : html`<div class="table-wrap"><table class="table links-table"><thead><tr><th scope="col">Item</th><th scope="col">Now</th><th scope="col">Linked</th>${
          ctx.canWrite ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : ""
        }</tr></thead>
    <tbody>${o.links.map(
      (l) => html`<tr><td>${linkDescription(l)}</td><td>${linkState(l)}</td><td>${time(l.created_at)} <span class="muted small">by ${l.created_by}</span></td>${
        ctx.canWrite
          ? html`<td><form method="post" action="${base}/links/${l.id}/remove">${csrfField(ctx)}<button type="submit" class="button secondary small">Unlink</button></form></td>`
          : ""
      }</tr>`,
    )}</tbody></table></div>`
  }
  ${
    ctx.canWrite
      ? html`<form method="post" action="${base}/links" class="filters" aria-label="Link an item">${errorList(errorsFor("link"))}${csrfField(ctx)}${linkFields(valuesFor("link"))}
    <div class="field actions"><button type="submit" class="button primary">Link</button></div></form>`
      : ""
  }
</section>
<section class="card" aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline <span class="count">${o.timeline.length}</span></h2>
  <ol class="timeline">${o.timeline.map(timelineEntry)}</ol>
  ${
    ctx.canWrite
      ? html`<form method="post" action="${base}/notes" class="stack" aria-label="Add a note">${errorList(errorsFor("note"))}${csrfField(ctx)}
    <div class="field"><label for="n-body">Add a note <span class="help">(Markdown)</span></label>
      <textarea id="n-body" name="body" rows="4" required maxlength="65536">${valuesFor("note").body ?? ""}</textarea></div>
    <button type="submit" class="button primary">Add note</button></form>`
      : ""
  }
</section>
${
  ctx.canWrite
    ? html`<section class="card" aria-labelledby="edit-h"><h2 id="edit-h">Update</h2>
  <form method="post" action="${base}" class="stack" aria-label="Update the incident">${errorList(errorsFor("edit"))}${csrfField(ctx)}
    <div class="field"><label for="e-title">Title</label><input id="e-title" name="title" required maxlength="200" value="${edit.title ?? ""}"></div>
    <div class="field"><label for="e-status">Status</label>${select("status", "e-status", INCIDENT_STATUSES, edit.status, STATUS_LABEL)}</div>
    <div class="field"><label for="e-severity">Severity</label>${select("severity", "e-severity", INCIDENT_SEVERITIES, edit.severity)}</div>
    <div class="field"><label for="e-owner">Owner</label><input id="e-owner" name="owner" maxlength="200" value="${edit.owner ?? ""}"></div>
    <div class="field"><label for="e-summary">Summary <span class="help">(Markdown)</span></label><textarea id="e-summary" name="summary" rows="5" maxlength="65536">${edit.summary ?? ""}</textarea></div>
    <div class="field"><label for="e-cause">Root cause <span class="help">(Markdown)</span></label><textarea id="e-cause" name="root_cause" rows="5" maxlength="65536">${edit.root_cause ?? ""}</textarea></div>
    <div class="field"><label for="e-fix">Remediation <span class="help">(Markdown)</span></label><textarea id="e-fix" name="remediation" rows="5" maxlength="65536">${edit.remediation ?? ""}</textarea></div>
    <button type="submit" class="button primary">Save changes</button>
    <p class="help">Each changed field becomes one entry in the timeline.</p>
  </form></section>`
    : ""
}`;
}
