import type { Request, Router } from "express";
import type { DecisionRow } from "../../db/decision-repository";
import { isDigest } from "../../domain/image-reference";
import { href, html } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager, statusBadge } from "../views/components";
import { exportFormat, sendExport, type ExportSpec } from "../views/export";
import { shortDigest, time } from "../views/format";
import { layout } from "../views/layout";

export const DECISIONS_PAGE_SIZE = 100;
const DAY_MS = 86_400_000;
const WINDOWS = [1, 7, 14, 30, 90] as const;

const DECISIONS_EXPORT: ExportSpec<DecisionRow> = {
  name: "decisions",
  columns: ["id", "decided_at", "image_digest", "image_ref", "namespace", "is_compliant", "status", "reason", "policy_version", "token_name"],
  values: (d) => [d.id, d.decided_at, d.image_digest, d.image_ref, d.namespace, d.is_compliant, d.status, d.reason, d.policy_version, d.token_name],
};

/** The log's filters as the URL carries them; malformed values are ignored, as on the dashboard's other lists. */
function decisionQuery(req: Request, now: Date) {
  const answer = queryValue(req, "answer");
  const digest = queryValue(req, "digest")?.trim();
  const namespace = queryValue(req, "namespace")?.trim().slice(0, 253) || undefined;
  const daysParam = Number(queryValue(req, "days"));
  const days = (WINDOWS as readonly number[]).includes(daysParam) ? daysParam : undefined;
  return {
    params: { answer: answer === "allowed" || answer === "denied" ? answer : undefined, digest: digest && isDigest(digest) ? digest : undefined, namespace, days },
    filter: {
      isCompliant: answer === "allowed" ? true : answer === "denied" ? false : undefined,
      imageDigest: digest && isDigest(digest) ? digest : undefined,
      namespace,
      since: days ? new Date(now.getTime() - days * DAY_MS) : undefined,
    },
  };
}

/** The admission decision log (admission_decisions), newest first, filterable, cursor-paged, exportable. */
export function registerDecisions(router: Router, ui: UiContext): void {
  router.get("/ui/decisions", async (req, res) => {
    const now = ui.deps.clock();
    const { params, filter } = decisionQuery(req, now);
    const format = exportFormat(queryValue(req, "format"));
    if (format) return sendExport(res, format, now, DECISIONS_EXPORT, (onBatch) => ui.deps.reading.streamDecisions(filter, onBatch));
    const cursorParam = queryValue(req, "cursor");
    const cursor = cursorParam && /^[A-Za-z0-9_-]{1,64}$/.test(cursorParam) ? cursorParam : undefined;
    const page = await ui.deps.reading.decisions({ ...filter, limit: DECISIONS_PAGE_SIZE, cursor });
    const anyFilter = Object.values(params).some((v) => v !== undefined);
    const content = html`
<div class="page-head"><h1>Admission decisions</h1><p class="muted">Every answer admission got (the lookups' log, kept for the retention period), newest first.</p></div>
<form class="filters card" method="get" action="/ui/decisions" aria-label="Filter decisions">
  <div class="field"><label for="d-answer">Answer</label><select id="d-answer" name="answer"><option value="">Any</option>
    <option value="allowed"${params.answer === "allowed" ? html` selected` : ""}>Allowed</option>
    <option value="denied"${params.answer === "denied" ? html` selected` : ""}>Denied</option></select></div>
  <div class="field"><label for="d-days">When</label><select id="d-days" name="days"><option value="">Any time</option>${WINDOWS.map(
    (d) => html`<option value="${d}"${params.days === d ? html` selected` : ""}>Last ${d === 1 ? "24 hours" : `${d} days`}</option>`,
  )}</select></div>
  <div class="field"><label for="d-ns">Namespace</label><input id="d-ns" name="namespace" value="${params.namespace ?? ""}" placeholder="exact name"></div>
  <div class="field grow"><label for="d-digest">Image digest</label><input id="d-digest" name="digest" value="${params.digest ?? ""}" placeholder="sha256:…"></div>
  <div class="field actions">
    <button type="submit" class="button primary">Apply</button>
    ${anyFilter ? html`<a class="button secondary" href="/ui/decisions">Clear</a>` : ""}
    <a class="button secondary" href="${href("/ui/decisions", { ...params, format: "csv" })}">Export CSV</a>
    <a class="button secondary" href="${href("/ui/decisions", { ...params, format: "json" })}">Export JSON</a>
  </div>
</form>
${
  page.items.length === 0
    ? html`<p class="empty card">No decisions match${anyFilter ? " these filters" : " yet"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table decisions-table">
  <caption class="sr-only">Admission decisions, newest first</caption>
  <thead><tr><th scope="col">When</th><th scope="col">Answer</th><th scope="col">Image</th><th scope="col">Namespace</th><th scope="col">Asked as</th><th scope="col">Policy</th></tr></thead>
  <tbody>${page.items.map(
    (d) => html`<tr data-id="${d.id}"><td>${time(d.decided_at)}</td><td>${statusBadge(d.status)}</td>
    <td>${d.image_digest ? html`<a href="/ui/images/${d.image_digest}">${shortDigest(d.image_digest)}</a>` : html`<span class="muted">no digest</span>`}</td>
    <td>${d.namespace ?? html`<span class="muted">—</span>`}</td>
    <td class="small reason">${d.image_ref ?? ""}${d.token_name ? html`<div class="muted">${d.token_name}</div>` : ""}</td>
    <td>${d.policy_version === null ? "—" : `v${d.policy_version}`}</td></tr>`,
  )}</tbody></table></div>`
}
${pager("/ui/decisions", params as Record<string, string | undefined>, {
  first: !!cursor,
  next: page.nextCursor ? href("/ui/decisions", { ...params, cursor: page.nextCursor }) : null,
})}`;
    sendPage(res, layout(viewContext(req), { title: "Admission decisions", section: "overview" }, content));
  });
}
