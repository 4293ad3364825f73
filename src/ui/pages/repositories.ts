import type { Request, Router } from "express";
import { REPOSITORY_SORTS, type RepositorySortField } from "../../db/repository-read-model";
import { href, html, type SafeHtml } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager, severityBar, statusBadge } from "../views/components";
import { number, shortDigest, time } from "../views/format";
import { layout } from "../views/layout";

export const REPOSITORIES_PAGE_SIZE = 25;
/** Digests shown per repository; the rest are one click away on the images list filtered to it. */
const DIGESTS_SHOWN = 8;
const FIRST_ORDER = (field: RepositorySortField): "asc" | "desc" => (field === "repository" ? "asc" : "desc");

export function repositoryListQuery(req: Request) {
  const field = queryValue(req, "sort");
  const orderParam = queryValue(req, "order");
  const known = (REPOSITORY_SORTS as readonly string[]).includes(field ?? "");
  const sort: { field: RepositorySortField; order: "asc" | "desc" } = known
    ? { field: field as RepositorySortField, order: orderParam === "asc" || orderParam === "desc" ? orderParam : FIRST_ORDER(field as RepositorySortField) }
    : { field: "non_compliant" as RepositorySortField, order: "desc" as const };
  const page = Number(queryValue(req, "page") ?? "1");
  return {
    search: queryValue(req, "q")?.trim().slice(0, 200) || undefined,
    sort,
    isDefault: !known,
    page: Number.isInteger(page) && page >= 1 && page <= 10_000 ? page : 1,
  };
}

/** Repositories grouping their tags and digests with each one's verdict: the per-repository view of the images list. */
export function registerRepositories(router: Router, ui: UiContext): void {
  router.get("/ui/repositories", async (req, res) => {
    const { search, sort, isDefault, page: pageNumber } = repositoryListQuery(req);
    const page = await ui.deps.reading.repositoriesWithImages({
      search,
      sort,
      offset: (pageNumber - 1) * REPOSITORIES_PAGE_SIZE,
      limit: REPOSITORIES_PAGE_SIZE,
      digests: DIGESTS_SHOWN,
    });
    const filters = { q: search };
    const sorted = { ...filters, sort: isDefault ? undefined : sort.field, order: isDefault ? undefined : sort.order };
    const th = (field: RepositorySortField, label: string, cls = ""): SafeHtml => {
      const active = sort.field === field;
      const order = active ? (sort.order === "desc" ? "asc" : "desc") : FIRST_ORDER(field);
      return html`<th scope="col"${cls ? html` class="${cls}"` : ""}${active ? html` aria-sort="${sort.order === "desc" ? "descending" : "ascending"}"` : ""}><a href="${href("/ui/repositories", { ...filters, sort: field, order })}">${label}${
        active ? html` <span aria-hidden="true">${sort.order === "desc" ? "▼" : "▲"}</span>` : ""
      }</a></th>`;
    };
    const largest = Math.max(0, ...page.items.flatMap((r) => r.digests.map((d) => d.critical_count + d.high_count + d.medium_count + d.low_count + d.unknown_count)));
    const content = html`
<div class="page-head"><h1>Repositories</h1><p class="muted">Each repository with its tags and digests and their verdicts, the repositories with the most non-compliant images first. <a href="/ui/images">Every image →</a></p></div>
<form class="filters card" method="get" action="/ui/repositories" aria-label="Filter repositories">
  ${isDefault ? "" : html`<input type="hidden" name="sort" value="${sort.field}"><input type="hidden" name="order" value="${sort.order}">`}
  <div class="field grow"><label for="r-q">Search</label><input id="r-q" name="q" type="search" value="${search ?? ""}" placeholder="Part of a repository name"></div>
  <div class="field actions"><button type="submit" class="button primary">Apply</button>${search ? html`<a class="button secondary" href="/ui/repositories">Clear</a>` : ""}</div>
</form>
${
  page.items.length === 0
    ? html`<p class="empty card">No repositories match${search ? " this search" : pageNumber > 1 ? " on this page" : " yet: upload a report with POST /v1/reports"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table repositories-table">
  <caption class="sr-only">Repositories with their digests, sorted by ${sort.field} ${sort.order === "desc" ? "descending" : "ascending"}</caption>
  <thead><tr>${th("repository", "Repository")}${th("non_compliant", "Verdicts")}${th("images", "Digests", "num")}<th scope="col" class="num">Tags</th>${th("last_scanned_at", "Last scan")}<th scope="col">Tags and digests, newest scan first</th></tr></thead>
  <tbody>${page.items.map(
    (r) => html`<tr>
    <th scope="row"><a href="${href("/ui/images", { repository: r.repository })}">${r.repository}</a></th>
    <td class="verdict-counts">${(["non_compliant", "stale", "not_scanned", "compliant"] as const)
      .filter((s) => r[s] > 0)
      .map((s) => html`<div>${statusBadge(s)} <span class="count-of">${number(r[s])}</span></div>`)}</td>
    <td class="num">${number(r.images)}</td>
    <td class="num">${number(r.tags)}</td>
    <td>${time(r.last_scanned_at)}</td>
    <td><ul class="digest-list">${r.digests.map(
      (d) => html`<li>${statusBadge(d.status)} <a href="/ui/images/${d.image_digest}">${d.tags.length ? d.tags.slice(0, 4).map((t) => html`<span class="tag">${t}</span>`) : html`<span class="muted">untagged</span>`}</a>
        ${d.tags.length > 4 ? html`<span class="muted small">+${d.tags.length - 4}</span>` : ""} ${shortDigest(d.image_digest)}
        ${severityBar({ critical: d.critical_count, high: d.high_count, medium: d.medium_count, low: d.low_count, unknown: d.unknown_count }, largest)}</li>`,
    )}</ul>${r.images > r.digests.length ? html`<a class="small" href="${href("/ui/images", { repository: r.repository })}">All ${number(r.images)} digests →</a>` : ""}</td>
  </tr>`,
  )}</tbody></table></div>`
}
${pager("/ui/repositories", sorted, {
  first: pageNumber > 2,
  prev: pageNumber > 1 ? href("/ui/repositories", { ...sorted, page: pageNumber - 1 > 1 ? pageNumber - 1 : undefined }) : null,
  next: page.more ? href("/ui/repositories", { ...sorted, page: pageNumber + 1 }) : null,
})}`;
    sendPage(res, layout(viewContext(req), { title: "Repositories", section: "images" }, content));
  });
}
