/** What runs where, as the Running page, the image page and the vulnerability page show it. */
import type { NamespaceRuntimeRow, RunningWorkloadRow, ViolationRow } from "../../db/runtime-read-model";
import { href, html, type SafeHtml } from "../html";
import { statusBadge } from "./components";
import { shortDigest, time } from "./format";

/** A running container's image: the reference as the Pod names it, and the digest (linked when a report exists). */
export function imageCell(r: { image_ref: string | null; image_digest: string | null; status?: string }): SafeHtml {
  const ref = r.image_ref ? html`<code>${r.image_ref}</code>` : html`<span class="muted">(no image reference)</span>`;
  if (!r.image_digest) return html`${ref}<div class="muted small">digest unresolved</div>`;
  const digest = r.status === "not_scanned" ? shortDigest(r.image_digest) : html`<a href="/ui/images/${r.image_digest}">${shortDigest(r.image_digest)}</a>`;
  return html`${ref}<div>${digest}</div>`;
}

const runningFilter = (cluster: string, namespace?: string) => href("/ui/running", { cluster, namespace });

/** Running containers in a table: verdict, where, workload, container, image, since when. */
export function runningTable(rows: readonly RunningWorkloadRow[], cls = "running-table"): SafeHtml {
  return html`<div class="table-wrap"><table class="table ${cls}">
  <thead><tr><th scope="col">Verdict</th><th scope="col">Cluster / namespace</th><th scope="col">Workload</th><th scope="col">Container</th><th scope="col">Image</th><th scope="col">Running since</th></tr></thead>
  <tbody>${rows.map(
    (r) => html`<tr><td>${statusBadge(r.status)}${r.open_violation_id ? html` <span class="badge badge-non_compliant" title="open runtime violation ${r.open_violation_id}">violation</span>` : ""}</td>
      <td><a href="${runningFilter(r.cluster)}">${r.cluster}</a> / <a href="${runningFilter(r.cluster, r.namespace)}">${r.namespace}</a></td>
      <th scope="row">${r.kind}/${r.name}${r.pods !== null && r.pods > 1 ? html` <span class="muted small">${r.pods} Pods</span>` : ""}</th>
      <td>${r.container}${r.container_type !== "regular" ? html` <span class="muted small">${r.container_type}</span>` : ""}</td>
      <td>${imageCell(r)}</td><td>${time(r.first_seen_at)}</td></tr>`,
  )}</tbody></table></div>`;
}

const CAUSE: Record<string, string> = {
  inventory: "started running",
  report: "rescan",
  policy: "policy change",
  exception: "exception changed",
  expiry: "exception expired",
  scan_age: "scan aged",
};

/** Open runtime violations: since when, where, what runs, the image's status when it opened, and why it opened. */
export function violationsTable(rows: readonly ViolationRow[]): SafeHtml {
  return html`<div class="table-wrap"><table class="table violations-table">
  <thead><tr><th scope="col">Open since</th><th scope="col">Cluster / namespace</th><th scope="col">Workload</th><th scope="col">Container</th><th scope="col">Image</th><th scope="col">Status</th><th scope="col">Opened by</th></tr></thead>
  <tbody>${rows.map(
    (v) => html`<tr><td>${time(v.opened_at)}</td>
      <td><a href="${runningFilter(v.cluster)}">${v.cluster}</a> / <a href="${runningFilter(v.cluster, v.namespace)}">${v.namespace}</a></td>
      <th scope="row">${v.kind}/${v.name}</th><td>${v.container}</td>
      <td>${imageCell({ image_ref: v.image_ref, image_digest: v.image_digest, status: v.status })}</td>
      <td>${statusBadge(v.status)}</td><td>${CAUSE[v.opened_cause] ?? v.opened_cause}</td></tr>`,
  )}</tbody></table></div>`;
}

/** Per cluster and namespace: what runs, how much of it violates; namespaces with open violations first. */
export function namespacesTable(rows: readonly NamespaceRuntimeRow[]): SafeHtml {
  return html`<div class="table-wrap"><table class="table namespaces-table">
  <thead><tr><th scope="col">Cluster</th><th scope="col">Namespace</th><th scope="col" class="num">Open violations</th><th scope="col" class="num">Containers</th><th scope="col" class="num">Not compliant</th><th scope="col" class="num">Never scanned</th><th scope="col" class="num">Unresolved</th></tr></thead>
  <tbody>${rows.map(
    (r) => html`<tr><td><a href="${runningFilter(r.cluster)}">${r.cluster}</a></td>
      <th scope="row"><a href="${runningFilter(r.cluster, r.namespace)}">${r.namespace}</a></th>
      <td class="num">${r.open_violations > 0 ? html`<strong>${r.open_violations}</strong>` : "0"}</td><td class="num">${r.running}</td>
      <td class="num">${r.non_compliant}</td><td class="num">${r.not_scanned}</td><td class="num">${r.unresolved}</td></tr>`,
  )}</tbody></table></div>`;
}

/** A short "running now" section for the image and vulnerability pages. */
export function runningSection(title: string, running: { items: readonly RunningWorkloadRow[]; count: number }, emptyText: string): SafeHtml {
  return html`<section class="card" aria-labelledby="running-h">
  <h2 id="running-h">${title} <span class="count">${running.count}</span></h2>
  ${
    running.items.length === 0
      ? html`<p class="empty">${emptyText}</p>`
      : html`${runningTable(running.items, "running-now-table")}${
          running.count > running.items.length ? html`<p class="muted small">Showing ${running.items.length} of ${running.count}; <a href="/ui/running">the Running page</a> lists every container.</p>` : ""
        }`
  }
</section>`;
}
