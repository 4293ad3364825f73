import type { Request, Router } from "express";
import {
  FLEET_VULNERABILITY_SORTS,
  type FleetVulnerabilityRow,
  type FleetVulnerabilitySort,
  type FleetVulnerabilitySortField,
} from "../../db/vulnerability-fleet-read-model";
import { SEVERITIES } from "../../domain/severity";
import { normalizeVulnerabilityId } from "../../http/policy-schemas";
import { href, html, type SafeHtml } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager, severityBadge } from "../views/components";
import { number } from "../views/format";
import { layout } from "../views/layout";
import { exportFormat, sendExport, type ExportSpec } from "../views/export";

export const VULNERABILITIES_PAGE_SIZE = 50;

/** The fleet list's export: the table's columns, in its order. */
const VULNERABILITIES_EXPORT: ExportSpec<FleetVulnerabilityRow> = {
  name: "vulnerabilities",
  columns: ["vulnerability_id", "severity", "cvss_score", "images", "non_compliant", "running", "fixable", "exceptions", "excepted_images", "packages", "title"],
  values: (v) => [v.vulnerability_id, v.severity, v.cvss_score, v.images, v.non_compliant, v.running, v.fixable, v.exceptions, v.excepted_images, v.packages, v.title],
};
const DEFAULT_SORT: FleetVulnerabilitySort = { field: "images", order: "desc" };
/** A first click sorts counts, severities and scores with the most first, IDs A to Z. */
const FIRST_ORDER = (field: FleetVulnerabilitySortField) => (field === "id" ? "asc" : "desc");

/** The list's query as the URL carries it; unknown or malformed values are ignored, as on the images list. */
export function vulnerabilityListQuery(req: Request) {
  const severityParam = queryValue(req, "severity");
  const severity = (SEVERITIES as readonly string[]).includes(severityParam ?? "") ? severityParam : undefined;
  const fixableParam = queryValue(req, "fixable");
  const fixable = fixableParam === "yes" ? true : fixableParam === "no" ? false : undefined;
  const running = queryValue(req, "running") === "yes" ? true : undefined;
  const repository = queryValue(req, "repository")?.slice(0, 255) || undefined;
  const search = queryValue(req, "q")?.trim().slice(0, 200) || undefined;
  const field = queryValue(req, "sort");
  const orderParam = queryValue(req, "order");
  const sort: FleetVulnerabilitySort = (FLEET_VULNERABILITY_SORTS as readonly string[]).includes(field ?? "")
    ? { field: field as FleetVulnerabilitySortField, order: orderParam === "asc" || orderParam === "desc" ? orderParam : FIRST_ORDER(field as FleetVulnerabilitySortField) }
    : DEFAULT_SORT;
  const page = Number(queryValue(req, "page") ?? "1");
  return { severity, fixable, running, repository, search, sort, page: Number.isInteger(page) && page >= 1 && page <= 10_000 ? page : 1 };
}

/** The URL form of a query (the filters the links and the export keep). */
export function vulnerabilityListParams(q: Omit<ReturnType<typeof vulnerabilityListQuery>, "page">) {
  const isDefault = q.sort.field === DEFAULT_SORT.field && q.sort.order === DEFAULT_SORT.order;
  return {
    filters: {
      severity: q.severity,
      fixable: q.fixable === undefined ? undefined : q.fixable ? "yes" : "no",
      running: q.running ? "yes" : undefined,
      repository: q.repository,
      q: q.search,
    },
    sort: isDefault ? undefined : q.sort.field,
    order: isDefault ? undefined : q.sort.order,
    isDefault,
  };
}

/**
 * Fleet-wide vulnerabilities: every ID in any image's current report, with affected images, running containers,
 * severity, CVSS, fixability and exceptions in force; sortable and filterable. `?id=` (the header's search box)
 * opens that vulnerability's page.
 */
export function registerVulnerabilities(router: Router, ui: UiContext): void {
  router.get("/ui/vulnerabilities", async (req, res) => {
    const raw = queryValue(req, "id")?.trim() ?? "";
    if (raw) {
      const id = normalizeVulnerabilityId(raw) ?? raw;
      res.redirect(303, `/ui/vulnerabilities/${encodeURIComponent(id)}`);
      return;
    }
    const query = vulnerabilityListQuery(req);
    const { page: pageNumber, sort, ...filter } = query;
    const format = exportFormat(queryValue(req, "format"));
    if (format)
      return sendExport(res, format, ui.deps.clock(), VULNERABILITIES_EXPORT, (onBatch) =>
        ui.deps.reading.streamFleetVulnerabilities(filter, sort, ui.deps.clock(), onBatch),
      );
    const [page, repositories] = await Promise.all([
      ui.deps.reading.fleetVulnerabilities({ ...filter, sort, offset: (pageNumber - 1) * VULNERABILITIES_PAGE_SIZE, limit: VULNERABILITIES_PAGE_SIZE }, ui.deps.clock()),
      ui.deps.reading.repositories(),
    ]);
    const params = vulnerabilityListParams(query);
    const filters = params.filters;
    const sorted = { ...filters, sort: params.sort, order: params.order };
    const anyFilter = Object.values(filters).some((v) => v !== undefined);
    const th = (field: FleetVulnerabilitySortField, label: string, cls = ""): SafeHtml => {
      const active = sort.field === field;
      const order = active ? (sort.order === "desc" ? "asc" : "desc") : FIRST_ORDER(field);
      return html`<th scope="col"${cls ? html` class="${cls}"` : ""}${active ? html` aria-sort="${sort.order === "desc" ? "descending" : "ascending"}"` : ""}><a href="${href("/ui/vulnerabilities", { ...filters, sort: field, order })}">${label}${
        active ? html` <span aria-hidden="true">${sort.order === "desc" ? "▼" : "▲"}</span>` : ""
      }</a></th>`;
    };
    const content = html`
<div class="page-head"><h1>Vulnerabilities</h1><p class="muted">Every vulnerability in any image's current report, across the fleet: most widespread first unless you sort by a column.</p></div>
<form class="filters card" method="get" action="/ui/vulnerabilities" aria-label="Filter vulnerabilities">
  ${params.isDefault ? "" : html`<input type="hidden" name="sort" value="${sort.field}"><input type="hidden" name="order" value="${sort.order}">`}
  <div class="field"><label for="v-sev">Severity</label><select id="v-sev" name="severity"><option value="">Any</option>${SEVERITIES.map(
    (s) => html`<option value="${s}"${s === filter.severity ? html` selected` : ""}>${s}</option>`,
  )}</select></div>
  <div class="field"><label for="v-fix">Fixable</label><select id="v-fix" name="fixable"><option value="">Any</option>
    <option value="yes"${filter.fixable === true ? html` selected` : ""}>Fix available</option>
    <option value="no"${filter.fixable === false ? html` selected` : ""}>No fix</option></select></div>
  <div class="field"><label for="v-run">Running</label><select id="v-run" name="running"><option value="">Any</option>
    <option value="yes"${filter.running ? html` selected` : ""}>Running now</option></select></div>
  <div class="field"><label for="v-repo">Repository</label><select id="v-repo" name="repository"><option value="">Any repository</option>
    ${repositories.map((r) => html`<option value="${r}"${r === filter.repository ? html` selected` : ""}>${r}</option>`)}
    ${filter.repository && !repositories.includes(filter.repository) ? html`<option value="${filter.repository}" selected>${filter.repository}</option>` : ""}</select></div>
  <div class="field grow"><label for="v-q">Search</label>
    <input id="v-q" name="q" type="search" value="${filter.search ?? ""}" placeholder="Part of an ID (CVE-2024-) or a package name"></div>
  <div class="field actions">
    <button type="submit" class="button primary">Apply</button>
    ${anyFilter ? html`<a class="button secondary" href="/ui/vulnerabilities">Clear</a>` : ""}
    <a class="button secondary" href="${href("/ui/vulnerabilities", { ...sorted, format: "csv" })}">Export CSV</a>
    <a class="button secondary" href="${href("/ui/vulnerabilities", { ...sorted, format: "json" })}">Export JSON</a>
  </div>
</form>
${
  page.items.length === 0
    ? html`<p class="empty card">No vulnerabilities match${anyFilter ? " these filters" : pageNumber > 1 ? " on this page" : ": no current report has any"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table vulnerabilities-table">
  <caption class="sr-only">Vulnerabilities across the fleet, sorted by ${sort.field} ${sort.order === "desc" ? "descending" : "ascending"}</caption>
  <thead><tr>${th("id", "Vulnerability")}${th("severity", "Severity")}${th("cvss", "CVSS", "num")}${th("images", "Images", "num")}${th("non_compliant", "Blocked", "num")}${th(
    "running",
    "Running",
    "num",
  )}<th scope="col">Fix</th><th scope="col">Exceptions</th><th scope="col">Packages</th></tr></thead>
  <tbody>${page.items.map(
    (v) => html`<tr>
    <th scope="row"><a href="/ui/vulnerabilities/${encodeURIComponent(v.vulnerability_id)}">${v.vulnerability_id}</a>${v.title ? html`<div class="small muted clamp">${v.title}</div>` : ""}</th>
    <td>${severityBadge(v.severity)}</td>
    <td class="num">${v.cvss_score === null ? html`<span class="muted">—</span>` : v.cvss_score.toFixed(1)}</td>
    <td class="num">${number(v.images)}</td>
    <td class="num">${v.non_compliant ? html`<strong>${number(v.non_compliant)}</strong>` : "0"}</td>
    <td class="num">${number(v.running)}</td>
    <td>${v.fixable ? "fix available" : html`<span class="muted">no fix</span>`}</td>
    <td>${v.exceptions ? html`${v.exceptions} in force<div class="small muted">covering ${v.excepted_images} of ${v.images} image${v.images === 1 ? "" : "s"}</div>` : html`<span class="muted">none</span>`}</td>
    <td>${v.packages.map((p) => html`<code class="pkg">${p}</code> `)}</td>
  </tr>`,
  )}</tbody></table></div>`
}
${pager("/ui/vulnerabilities", sorted, {
  first: pageNumber > 2,
  prev: pageNumber > 1 ? href("/ui/vulnerabilities", { ...sorted, page: pageNumber - 1 > 1 ? pageNumber - 1 : undefined }) : null,
  next: page.more ? href("/ui/vulnerabilities", { ...sorted, page: pageNumber + 1 }) : null,
})}`;
    sendPage(res, layout(viewContext(req), { title: "Vulnerabilities", section: "vulnerabilities" }, content));
  });
}
