import type { Router } from "express";
import { STATUSES } from "../../domain/verdict";
import { href, html } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager, severityBar, statusBadge, statusLabel } from "../views/components";
import { shortDigest, time } from "../views/format";
import { layout } from "../views/layout";

const PAGE_SIZE = 50;

/** Every stored image: filter by verdict and repository, search by digest, tag or repository, page by digest. */
export function registerImages(router: Router, ui: UiContext): void {
  router.get("/ui/images", async (req, res) => {
    const statusParam = queryValue(req, "status");
    const status = (STATUSES as readonly string[]).includes(statusParam ?? "") ? statusParam : undefined;
    const repository = queryValue(req, "repository")?.slice(0, 255);
    const search = queryValue(req, "q")?.trim().slice(0, 200) || undefined;
    const afterParam = queryValue(req, "after");
    const after = afterParam && /^sha256:[0-9a-f]{0,64}$/.test(afterParam) ? afterParam : undefined;
    const [page, repositories] = await Promise.all([
      ui.deps.reading.listImages({ status, repository, search, limit: PAGE_SIZE, after }),
      ui.deps.reading.repositories(),
    ]);
    const filters = { status, repository, q: search };
    const content = html`
<div class="page-head"><h1>Images</h1><p class="muted">Every image digest with a stored report and its current verdict.</p></div>
<form class="filters card" method="get" action="/ui/images" aria-label="Filter images">
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
  </div>
</form>
${
  page.items.length === 0
    ? html`<p class="empty card">No images match${status || repository || search ? " these filters" : " yet: upload a report with POST /v1/reports"}.</p>`
    : html`<div class="card flush table-wrap"><table class="table images-table">
  <caption class="sr-only">Images${status ? `, ${statusLabel(status)}` : ""}${repository ? `, repository ${repository}` : ""}</caption>
  <thead><tr>
    <th scope="col">Verdict</th><th scope="col">Repository and tags</th><th scope="col">Digest</th>
    <th scope="col">Vulnerabilities</th><th scope="col" class="num">Fixable</th><th scope="col">Scanned</th>
  </tr></thead>
  <tbody>${page.items.map(
    (i) => html`<tr>
    <td>${statusBadge(i.status)}</td>
    <td><a class="strong" href="/ui/images/${i.image_digest}">${i.repository ?? "(unknown repository)"}</a>
      <div class="tags">${i.tags.slice(0, 5).map((t) => html`<span class="tag">${t}</span>`)}${i.tags.length > 5 ? html`<span class="muted">+${i.tags.length - 5}</span>` : ""}</div></td>
    <td>${shortDigest(i.image_digest)}</td>
    <td>${severityBar({ critical: i.critical_count, high: i.high_count, medium: i.medium_count, low: i.low_count, unknown: i.unknown_count })}
      ${i.secret_count ? html`<span class="flag">${i.secret_count} secret${i.secret_count === 1 ? "" : "s"}</span>` : ""}
      ${i.misconfiguration_count ? html`<span class="flag">${i.misconfiguration_count} misconfig.</span>` : ""}</td>
    <td class="num">${i.fixable_count}</td>
    <td>${time(i.scanned_at)}</td>
  </tr>`,
  )}</tbody></table></div>`
}
${pager("/ui/images", filters, { first: !!after, next: page.nextCursor ? href("/ui/images", { ...filters, after: page.nextCursor }) : null })}`;
    sendPage(res, layout(viewContext(req), { title: "Images", section: "images" }, content));
  });
}
