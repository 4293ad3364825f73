import { DESTINATION_TYPES, NOTIFICATION_EVENT_TYPES, type DeliveryAttempt, type NotificationDestination, type NotificationRule } from "../../domain/notification";
import { SEVERITIES } from "../../domain/severity";
import { html, type SafeHtml } from "../html";
import { csrfField, errorList, type ViewContext } from "./components";
import { time } from "./format";

/** What a refused form showed, to show it again (never the secret). */
export type FormValues = Record<string, string | string[] | undefined>;

const PAGE = "/ui/settings/notifications";
const TYPE_LABEL = { webhook: "Webhook", slack: "Slack", cloudevents: "CloudEvents" } as const;
const EVENT_LABEL: Record<string, string> = {
  "verdict.changed": "Verdict changed",
  "runtime_violation.opened": "Runtime violation opened",
  "runtime_violation.resolved": "Runtime violation resolved",
  "exception.expiring": "Exception expiring",
  test: "Test",
};

/** scheme://host[:port] only: a Slack URL's path is its credential. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export function destinationsTable(ctx: ViewContext, rows: readonly NotificationDestination[], isAdmin: boolean): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">No destinations yet.</p>`;
  return html`<div class="table-wrap"><table class="table">
  <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Sends to</th><th scope="col">Signed</th><th scope="col">Added</th>${
    isAdmin ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : ""
  }</tr></thead>
  <tbody>${rows.map(
    (d) => html`<tr>
    <th scope="row">${d.name}</th><td>${TYPE_LABEL[d.type]}</td><td><code>${origin(d.url)}</code></td>
    <td>${d.type === "slack" ? html`<span class="muted">n/a</span>` : d.hasSecret ? "yes" : "no"}</td>
    <td>${time(d.createdAt)}${d.createdBy ? html`<div class="small muted">by ${d.createdBy}</div>` : ""}</td>
    ${
      isAdmin
        ? html`<td><div class="button-row">
      <form method="post" action="${PAGE}/destinations/${d.id}/test">${csrfField(ctx)}<button type="submit" class="button small secondary">Send test<span class="sr-only"> to ${d.name}</span></button></form>
      <form method="post" action="${PAGE}/destinations/${d.id}/delete">${csrfField(ctx)}<button type="submit" class="button small danger">Delete<span class="sr-only"> ${d.name}</span></button></form>
    </div></td>`
        : ""
    }
  </tr>`,
  )}</tbody></table></div>`;
}

const val = (v: FormValues, k: string): string => {
  const x = v[k];
  return Array.isArray(x) ? (x[0] ?? "") : (x ?? "");
};

export function destinationForm(ctx: ViewContext, errors: ReadonlyArray<{ path: string; message: string }>, values: FormValues): SafeHtml {
  const type = val(values, "type") || "webhook";
  return html`<form method="post" action="${PAGE}/destinations" class="stack grant-form" aria-labelledby="add-destination-h">
  <h3 id="add-destination-h">Add a destination</h3>
  ${errorList(errors)}
  ${csrfField(ctx)}
  <div class="row">
    <div class="field"><label for="d-name">Name</label><input id="d-name" name="name" required maxlength="100" value="${val(values, "name")}" placeholder="security-alerts"></div>
    <div class="field"><label for="d-type">Type</label><select id="d-type" name="type">${DESTINATION_TYPES.map(
      (t) => html`<option value="${t}"${t === type ? html` selected` : ""}>${TYPE_LABEL[t]}</option>`,
    )}</select></div>
  </div>
  <div class="field"><label for="d-url">URL</label><input id="d-url" name="url" type="url" required maxlength="2048" value="${val(values, "url")}" placeholder="https://hooks.example.com/scan-registry" aria-describedby="d-url-help">
    <p id="d-url-help" class="help">http(s). Its address is checked at every send: link-local and cloud metadata addresses are never allowed.</p></div>
  <div class="field"><label for="d-secret">Signing secret <span class="required">(optional; webhook and CloudEvents)</span></label>
    <input id="d-secret" name="secret" type="password" autocomplete="new-password" minlength="16" maxlength="512" aria-describedby="d-secret-help">
    <p id="d-secret-help" class="help">At least 16 characters. Signs each body (X-Scan-Registry-Signature); it cannot be read back.</p></div>
  <button type="submit" class="button primary">Add destination</button>
</form>`;
}

function filters(r: NotificationRule): SafeHtml {
  const parts: SafeHtml[] = [];
  if (r.repository) parts.push(html`repository <code>${r.repository}</code>`);
  if (r.cluster) parts.push(html`cluster <code>${r.cluster}</code>`);
  if (r.namespace) parts.push(html`namespace <code>${r.namespace}</code>`);
  if (r.minSeverity) parts.push(html`severity ≥ ${r.minSeverity}`);
  if (r.openIncident) parts.push(html`opens incidents for CRITICAL violations`);
  return parts.length ? html`${parts.map((p, i) => html`${i ? ", " : ""}${p}`)}` : html`<span class="muted">everything</span>`;
}

export function rulesTable(ctx: ViewContext, rows: readonly NotificationRule[]): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">No rules: nothing is sent.</p>`;
  return html`<div class="table-wrap"><table class="table">
  <thead><tr><th scope="col">Name</th><th scope="col">Events</th><th scope="col">Only</th><th scope="col">Destination</th>${
    ctx.canWrite ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : ""
  }</tr></thead>
  <tbody>${rows.map(
    (r) => html`<tr>
    <th scope="row">${r.name}</th><td>${r.events.map((e, i) => html`${i ? ", " : ""}${EVENT_LABEL[e] ?? e}`)}</td><td>${filters(r)}</td>
    <td>${r.destinationName} <span class="small muted">(${TYPE_LABEL[r.destinationType]})</span></td>
    ${
      ctx.canWrite
        ? html`<td><form method="post" action="${PAGE}/rules/${r.id}/delete">${csrfField(ctx)}<button type="submit" class="button small danger">Delete<span class="sr-only"> rule ${r.name}</span></button></form></td>`
        : ""
    }
  </tr>`,
  )}</tbody></table></div>`;
}

export function ruleForm(ctx: ViewContext, destinations: readonly NotificationDestination[], errors: ReadonlyArray<{ path: string; message: string }>, values: FormValues): SafeHtml {
  if (destinations.length === 0) return html`<p class="help">Add a destination first (admin).</p>`;
  const chosen = new Set(Array.isArray(values.events) ? values.events : values.events ? [values.events] : ["verdict.changed"]);
  const severity = val(values, "min_severity");
  return html`<form method="post" action="${PAGE}/rules" class="stack grant-form" aria-labelledby="add-rule-h">
  <h3 id="add-rule-h">Add a rule</h3>
  ${errorList(errors)}
  ${csrfField(ctx)}
  <div class="row">
    <div class="field"><label for="r-name">Name</label><input id="r-name" name="rule_name" required maxlength="100" value="${val(values, "rule_name")}" placeholder="prod criticals"></div>
    <div class="field"><label for="r-destination">Destination</label><select id="r-destination" name="destination_id">${destinations.map(
      (d) => html`<option value="${d.id}"${d.id === val(values, "destination_id") ? html` selected` : ""}>${d.name} (${TYPE_LABEL[d.type]})</option>`,
    )}</select></div>
  </div>
  <fieldset><legend>Events</legend><div class="inline-choices">${NOTIFICATION_EVENT_TYPES.map(
    (e) => html`<label class="choice"><input type="checkbox" name="events" value="${e}"${chosen.has(e) ? html` checked` : ""}> ${EVENT_LABEL[e]}</label>`,
  )}</div></fieldset>
  <div class="row">
    <div class="field"><label for="r-repository">Repository glob <span class="required">(optional)</span></label><input id="r-repository" name="repository" value="${val(values, "repository")}" placeholder="ghcr.io/acme/**"></div>
    <div class="field"><label for="r-cluster">Cluster <span class="required">(optional)</span></label><input id="r-cluster" name="cluster" value="${val(values, "cluster")}" placeholder="prod"></div>
    <div class="field"><label for="r-namespace">Namespace <span class="required">(optional)</span></label><input id="r-namespace" name="namespace" value="${val(values, "namespace")}"></div>
    <div class="field"><label for="r-severity">Minimum severity</label><select id="r-severity" name="min_severity"><option value="">any</option>${SEVERITIES.map(
      (s) => html`<option value="${s}"${s === severity ? html` selected` : ""}>${s}</option>`,
    )}</select></div>
  </div>
  <label class="choice"><input type="checkbox" name="open_incident"${val(values, "open_incident") === "on" ? html` checked` : ""}> <span>Also open an incident per vulnerability and cluster when a violation with a CRITICAL opens <span class="help">(needs the runtime_violation.opened event)</span></span></label>
  <button type="submit" class="button primary">Add rule</button>
</form>`;
}

const STATUS_CLASS = { delivered: "badge-compliant", retrying: "badge-stale", failed: "badge-non_compliant" } as const;

export function deliveriesTable(rows: readonly DeliveryAttempt[], names: ReadonlyMap<string, string>): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">Nothing sent yet.</p>`;
  return html`<div class="table-wrap"><table class="table">
  <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Destination</th><th scope="col">Attempt</th><th scope="col">Outcome</th><th scope="col">HTTP</th><th scope="col">Error</th></tr></thead>
  <tbody>${rows.map(
    (d) => html`<tr>
    <td>${time(d.at)}</td><td>${EVENT_LABEL[d.eventType] ?? d.eventType}</td><td>${names.get(d.destinationId) ?? html`<span class="muted">deleted</span>`}</td>
    <td>${d.attempt}</td><td><span class="badge ${STATUS_CLASS[d.status]}">${d.status}</span></td>
    <td>${d.responseStatus ?? "—"}</td><td class="reason">${d.error ?? ""}</td>
  </tr>`,
  )}</tbody></table></div>`;
}
