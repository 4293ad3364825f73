import type { Router } from "express";
import { badRequest } from "../../domain/errors";
import { CLUSTER_NAME_PATTERN, NAMESPACE_PATTERN } from "../../domain/workload";
import { href, html } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { pager } from "../views/components";
import { plural } from "../views/format";
import { layout } from "../views/layout";
import { namespacesTable, runningTable, violationsTable } from "../views/running-view";

const CONTAINERS_PAGE = 100;
const VIOLATIONS_SHOWN = 100;
const UNSCANNED_SHOWN = 100;

/**
 * What runs where (issue 13): per cluster and namespace, the open runtime violations first, the running images no
 * report was ever uploaded for called out, then every running container, a cursor page at a time.
 */
export function registerRunning(router: Router, ui: UiContext): void {
  router.get("/ui/running", async (req, res) => {
    const cluster = queryValue(req, "cluster");
    const namespace = queryValue(req, "namespace");
    const after = queryValue(req, "after");
    if (cluster !== undefined && !CLUSTER_NAME_PATTERN.test(cluster)) throw badRequest("invalid_cluster", "That is not a cluster name.");
    if (namespace !== undefined && !NAMESPACE_PATTERN.test(namespace)) throw badRequest("invalid_namespace", "That is not a namespace name.");
    const reading = ui.deps.reading;
    const scope = { cluster, namespace };
    const [namespaces, violations, unscanned, containers] = await Promise.all([
      reading.runningByNamespace(scope),
      reading.violations({ state: "open", ...scope, limit: VIOLATIONS_SHOWN }),
      reading.workloads({ ...scope, status: "not_scanned", limit: UNSCANNED_SHOWN }),
      reading.workloads({ ...scope, limit: CONTAINERS_PAGE, cursor: after }),
    ]);
    const total = namespaces.reduce(
      (t, n) => ({ running: t.running + n.running, violations: t.violations + n.open_violations, unscanned: t.unscanned + n.not_scanned, unresolved: t.unresolved + n.unresolved }),
      { running: 0, violations: 0, unscanned: 0, unresolved: 0 },
    );
    const clusters = new Set(namespaces.map((n) => n.cluster)).size;
    const filterQuery = { cluster, namespace };
    const where = cluster ? html` in <code>${cluster}</code>${namespace ? html` / <code>${namespace}</code>` : ""} <a class="small" href="/ui/running">(all clusters)</a>` : "";
    const content = html`
<div class="page-head"><h1>Running${where}</h1>
  <p class="muted">${plural(total.running, "container")} running in ${plural(clusters, "cluster")}; ${plural(total.violations, "open violation")}.</p></div>
<section class="card" aria-labelledby="violations-h">
  <h2 id="violations-h">Open runtime violations <span class="count">${total.violations}</span></h2>
  <p class="muted small">Running containers whose image would be refused at admission today: non-compliant, stale, or never scanned.</p>
  ${violations.items.length === 0 ? html`<p class="empty">No open violations: everything running would be admitted today.</p>` : violationsTable(violations.items)}
  ${violations.nextCursor ? html`<p class="muted small">The ${VIOLATIONS_SHOWN} newest are shown; <code>GET /v1/violations</code> pages through all of them.</p>` : ""}
</section>
<section class="card callout" aria-labelledby="unscanned-h">
  <h2 id="unscanned-h">Running but never scanned <span class="count">${total.unscanned}</span></h2>
  <p class="muted small">No report was ever uploaded for these images: they bypassed admission control, or started before it was in place.</p>
  ${unscanned.items.length === 0 ? html`<p class="empty">Every running image with a known digest has been scanned.</p>` : runningTable(unscanned.items, "unscanned-table")}
  ${unscanned.nextCursor ? html`<p class="muted small">The first ${UNSCANNED_SHOWN} are shown; <code>GET /v1/workloads?status=not_scanned</code> lists all of them.</p>` : ""}
  ${total.unresolved > 0 ? html`<p class="muted small">${plural(total.unresolved, "container")} more run an image whose digest is not known (unresolved): the runtime reported only an image ID, or the Pod has not started.</p>` : ""}
</section>
<section class="card" aria-labelledby="namespaces-h">
  <h2 id="namespaces-h">By cluster and namespace</h2>
  ${namespaces.length === 0 ? html`<p class="empty">Nothing is known to run${cluster ? " here" : ""}. Send an inventory (<code>scan-registry inventory push</code>) or run <code>scan-registry agent</code> in the cluster.</p>` : namespacesTable(namespaces)}
</section>
<section class="card" aria-labelledby="containers-h">
  <h2 id="containers-h">Running containers</h2>
  <p class="muted small">By cluster, namespace, workload and container.</p>
  ${containers.items.length === 0 ? html`<p class="empty">No containers.</p>` : runningTable(containers.items)}
  ${pager("/ui/running", filterQuery, { first: !!after, next: containers.nextCursor ? href("/ui/running", { ...filterQuery, after: containers.nextCursor }) + "#containers-h" : null })}
</section>`;
    sendPage(res, layout(viewContext(req), { title: "Running", section: "running" }, content));
  });
}
