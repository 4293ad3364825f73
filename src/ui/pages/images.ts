import type { Request, Router } from "express";
import { IMAGE_SORTS, type ImageScanRow, type ImageSort, type ImageSortField } from "../../db/image-scan-repository";
import { STATUSES } from "../../domain/verdict";
import { href, html, type SafeHtml } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager, severityBar, statusBadge, statusLabel } from "../views/components";
import { shortDigest, time } from "../views/format";
import { exportFormat, sendExport, type ExportSpec } from "../views/export";
import { layout } from "../views/layout";

const PAGE_SIZE = 50;
const DEFAULT_SORT: ImageSort = { field: "status", order: "desc" };
/** The order a column sorts in when its header is first clicked: most first, except repository names (A to Z). */
const FIRST_ORDER = (field: ImageSortField) => (field === "repository" ? "asc" : "desc");

/**
 * The list's query as the URL carries it. Unknown or malformed values are ignored (the default applies), as the
 * dashboard's other filters and the findings table's sort are: a stale bookmark still opens a page.
 */
export function imageListQuery(req: Request) {
  const statusParam = queryValue(req, "status");
  const status = (STATUSES as readonly string[]).includes(statusParam ?? "") ? statusParam : undefined;
  const repository = queryValue(req, "repository")?.slice(0, 255);
  const search = queryValue(req, "q")?.trim().slice(0, 200) || undefined;
  const field = queryValue(req, "sort");
  const orderParam = queryValue(req, "order");
  const sort: ImageSort = (IMAGE_SORTS as readonly string[]).includes(field ?? "")
    ? { field: field as ImageSortField, order: orderParam === "asc" || orderParam === "desc" ? orderParam : FIRST_ORDER(field as ImageSortField) }
    : DEFAULT_SORT;
  const page = Number(queryValue(req, "page") ?? "1");
  return { status, repository, search, sort, page: Number.isInteger(page) && page >= 1 && page <= 10_000 ? page : 1 };
}

/** Every stored image: filter by verdict and repository, search by digest, tag or repository, sort by a column. */
export function registerImages(router: Router, ui: UiContext): void {
  router.get("/ui/images", async (req, res) => {
    const { status, repository, search, sort, page: pageNumber } = imageListQuery(req);
    const format = exportFormat(queryValue(req, "format"));
    if (format)
      return sendExport(res, format, ui.deps.clock(), IMAGES_EXPORT, (onBatch) => ui.deps.reading.streamImages({ status, repository, search, sort }, onBatch));
    const [page, repositories] = await Promise.all([
      ui.deps.reading.listImagesSorted({ status, repository, search, sort, offset: (pageNumber - 1) * PAGE_SIZE, limit: PAGE_SIZE }),
      ui.deps.reading.repositories(),
    ]);
    const filters = { status, repository, q: search };
    const isDefault = sort.field === DEFAULT_SORT.field && sort.order === DEFAULT_SORT.order;
    const sorted = { ...filters, sort: isDefault ? undefined : sort.field, order: isDefault ? undefined : sort.order };
    const sortLink = (field: ImageSortField, label: string): SafeHtml => {
      const active = sort.field === field;
      const order = active ? (sort.order === "desc" ? "asc" : "desc") : FIRST_ORDER(field);
      return html`<a href="${href("/ui/images", { ...filters, sort: field, order })}">${label}${
        active ? html` <span aria-hidden="true">${sort.order === "desc" ? "▼" : "▲"}</span>` : ""
      }</a>`;
    };
    const th = (field: ImageSortField, label: string, cls = ""): SafeHtml =>
      html`<th scope="col"${cls ? html` class="${cls}"` : ""}${sort.field === field ? html` aria-sort="${sort.order === "desc" ? "descending" : "ascending"}"` : ""}>${sortLink(field, label)}</th>`;
    const severityField = (["critical", "high", "medium", "low"] as const).find((f) => f === sort.field);
    const totals = page.items.map((i) => i.critical_count + i.high_count + i.medium_count + i.low_count + i.unknown_count);
    const largest = Math.max(0, ...totals);
    const content = html`
<div class="page-head"><h1>Images</h1><p class="muted">Every image digest with a stored report and its current verdict, riskiest first unless you sort by a column. <a href="/ui/repositories">By repository →</a></p></div>
<form class="filters card" method="get" action="/ui/images" aria-label="Filter images">
  ${isDefault ? "" : html`<input type="hidden" name="sort" value="${sort.field}"><input type="hidden" name="order" value="${sort.order}">`}
  <div class="field">
    <label for="f-status">Verdict</label>
    <select id="f-status" name="status">
      <option value="">Any verdict</option>
      ${STATUSES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ""}>${statusLabel(s)}</option>`)}
    </select>
  </div>
  <div class="field">
    <label for="f-repository">Repository</label>
    <select id="f-repository" name="repository">
      <option value="">Any repository</option>
      ${repositories.map((r) => html`<option value="${r}"${r === repository ? html` selected` : ""}>${r}</option>`)}
      ${repository && !repositories.includes(repository) ? html`<option value="${repository}" selected>${repository}</option>` : ""}
    </select>
  </div>
  <div class="field grow">
    <label for="f-q">Search</label>
    <input id="f-q" name="q" type="search" value="${search ?? ""}" placeholder="Digest (sha256:…), tag or part of a repository">
  </div>
  <div class="field actions">
    <button type="submit" class="button primary">Apply</button>
    ${status || repository || search ? html`<a class="button secondary" href="/ui/images">Clear</a>` : ""}
    <a class="button secondary" href="${href("/ui/images", { ...sorted, format: "csv" })}">Export CSV</a>
    <a class="button secondary" href="${href("/ui/images", { ...sorted, format: "json" })}">Export JSON</a>
  </div>
</form>
${
  page.items.length === 0
    ? html`<p class="empty card">No images match${status || repository || search ? " these filters" : pageNumber > 1 ? " on this page" : " yet: upload a report with POST /v1/reports"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table images-table">
  <caption class="sr-only">Images${status ? `, ${statusLabel(status)}` : ""}${repository ? `, repository ${repository}` : ""}, sorted by ${sort.field} ${sort.order === "desc" ? "descending" : "ascending"}</caption>
  <thead><tr>
    ${th("status", "Verdict")}${th("repository", "Repository and tags")}<th scope="col">Digest</th>
    <th scope="col"${severityField ? html` aria-sort="${sort.order === "desc" ? "descending" : "ascending"}"` : ""}>Vulnerabilities
      <span class="sort-by small">${sortLink("critical", "C")} ${sortLink("high", "H")} ${sortLink("medium", "M")} ${sortLink("low", "L")}</span></th>
    ${th("fixable", "Fixable", "num")}${th("scanned_at", "Scanned")}${th("first_seen_at", "First seen")}
  </tr></thead>
  <tbody>${page.items.map(
    (i) => html`<tr>
    <td>${statusBadge(i.status)}</td>
    <td><a class="strong" href="/ui/images/${i.image_digest}">${i.repository ?? "(unknown repository)"}</a>
      <div class="tags">${i.tags.slice(0, 5).map((t) => html`<span class="tag">${t}</span>`)}${i.tags.length > 5 ? html`<span class="muted">+${i.tags.length - 5}</span>` : ""}</div></td>
    <td>${shortDigest(i.image_digest)}</td>
    <td>${severityBar({ critical: i.critical_count, high: i.high_count, medium: i.medium_count, low: i.low_count, unknown: i.unknown_count }, largest)}
      ${i.secret_count ? html`<span class="flag">${i.secret_count} secret${i.secret_count === 1 ? "" : "s"}</span>` : ""}
      ${i.misconfiguration_count ? html`<span class="flag">${i.misconfiguration_count} misconfig.</span>` : ""}</td>
    <td class="num">${i.fixable_count}</td>
    <td>${time(i.scanned_at)}</td>
    <td>${time(i.first_seen_at)}</td>
  </tr>`,
  )}</tbody></table></div>`
}
${pager("/ui/images", sorted, {
  first: pageNumber > 2,
  prev: pageNumber > 1 ? href("/ui/images", { ...sorted, page: pageNumber - 1 > 1 ? pageNumber - 1 : undefined }) : null,
  next: page.more ? href("/ui/images", { ...sorted, page: pageNumber + 1 }) : null,
})}`;
    sendPage(res, layout(viewContext(req), { title: "Images", section: "images" }, content));
  });
}

/** The images list's export: the API's field names, in the list's order. */
export const IMAGES_EXPORT: ExportSpec<ImageScanRow> = {
  name: "images",
  columns: ["image_digest", "repository", "tags", "status", "critical", "high", "medium", "low", "unknown", "fixable", "secrets",
    "misconfigurations", "scanned_at", "first_seen_at", "evaluated_at", "policy_version"],
  values: (i) => [i.image_digest, i.repository, i.tags, i.status, i.critical_count, i.high_count, i.medium_count, i.low_count, i.unknown_count,
    i.fixable_count, i.secret_count, i.misconfiguration_count, i.scanned_at, i.first_seen_at, i.evaluated_at, i.policy_version],
};
