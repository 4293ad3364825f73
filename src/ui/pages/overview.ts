import type { Router } from "express";
import { html } from "../html";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { trendsSection, type TrendWindow } from "../views/trends-view";
import { dailyDecisionsChart, horizontalBarChart } from "../views/charts";
import { shortDigest, time } from "../views/format";
import { layout } from "../views/layout";
import { href } from "../html";
import type { RuntimeCounts } from "../../db/runtime-read-model";

/** The overview's running figures: containers running now, open runtime violations, images never scanned. */
function runningSummary(runtime: RuntimeCounts) {
  const sum = (rows: RuntimeCounts["running"], keep: (status: string) => boolean = () => true) => rows.filter((r) => keep(r.status)).reduce((n, r) => n + r.n, 0);
  const running = sum(runtime.running);
  const clusters = new Set(runtime.running.map((r) => r.cluster)).size;
  return html`<section class="card running-summary" aria-labelledby="running-h">
  <h2 id="running-h">Running now</h2>
  ${
    running === 0 && runtime.violations.length === 0
      ? html`<p class="empty">No inventory yet: <a href="/ui/running">the Running page</a> says how to send one.</p>`
      : html`<p><a href="/ui/running"><strong class="running-containers">${running.toLocaleString("en-US")}</strong> containers</a> in ${clusters.toLocaleString("en-US")} cluster${clusters === 1 ? "" : "s"};
    <strong class="running-violations">${sum(runtime.violations).toLocaleString("en-US")}</strong> open runtime violations;
    <strong class="running-unscanned">${sum(runtime.running, (s) => s === "not_scanned").toLocaleString("en-US")}</strong> running an image never scanned.</p>`
  }
</section>`;
}

const DECISION_DAYS = 14;

/** The overview: what is blocked, how much is wrong, what admission did lately, which exceptions end soon. */
export function registerOverview(router: Router, ui: UiContext): void {
  router.get("/ui/", async (req, res) => {
    const now = ui.deps.clock();
    const trendDays: TrendWindow = queryValue(req, "trend") === "90" ? 90 : 30;
    const [{ counts, severities, repositories, days, expiring }, runtime, snapshots] = await Promise.all([
      ui.deps.reading.overview(now, { decisionDays: DECISION_DAYS, expiringDays: 7, repositories: 10 }),
      ui.deps.reading.runtimeCounts(),
      ui.deps.reading.trends(now, trendDays),
    ]);
    const card = (status: string, label: string, value: number, hint: string) =>
      html`<a class="stat stat-${status}" href="${href("/ui/images", { status })}">
        <span class="stat-value">${value.toLocaleString("en-US")}</span>
        <span class="stat-label">${label}</span>
        <span class="stat-hint">${hint}</span></a>`;
    const content = html`
<div class="page-head"><h1>Overview</h1><p class="muted">${counts.total.toLocaleString("en-US")} images with a stored report</p></div>
<section aria-labelledby="verdicts-h">
  <h2 id="verdicts-h" class="sr-only">Images by verdict</h2>
  <div class="stats">
    ${card("compliant", "Compliant", counts.compliant, "may run")}
    ${card("non_compliant", "Non-compliant", counts.non_compliant, "blocked at admission")}
    ${card("stale", "Stale", counts.stale, "scan older than the policy allows")}
    <div class="stat stat-not_scanned"><span class="stat-value">${(counts.not_scanned + counts.not_scanned_asked).toLocaleString("en-US")}</span>
      <span class="stat-label">Not scanned</span><span class="stat-hint">asked at admission in ${DECISION_DAYS} days with no report</span></div>
  </div>
</section>
${runningSummary(runtime)}
${trendsSection(now, trendDays, snapshots)}
<div class="grid-2">
  <section class="card" aria-labelledby="sev-h">
    <h2 id="sev-h">Findings by severity</h2>
    <p class="muted small">Vulnerabilities in every image's current report, plus secrets and failed misconfiguration checks.</p>
    ${horizontalBarChart("Findings by severity across current scans", [
      { label: "Critical", value: severities.critical, fill: "fill-critical" },
      { label: "High", value: severities.high, fill: "fill-high" },
      { label: "Medium", value: severities.medium, fill: "fill-medium" },
      { label: "Low", value: severities.low, fill: "fill-low" },
      { label: "Unknown", value: severities.unknown, fill: "fill-unknown" },
      { label: "Secrets", value: severities.secrets, fill: "fill-secret" },
      { label: "Misconfigurations", value: severities.misconfigurations, fill: "fill-misconfig" },
    ], { labelWidth: 140 })}
    <p><a href="/ui/vulnerabilities">All vulnerabilities, most widespread first →</a></p>
  </section>
  <section class="card" aria-labelledby="dec-h">
    <h2 id="dec-h">Admission decisions, last ${DECISION_DAYS} days</h2>
    <p class="muted small">Lookups answered per day (UTC): allowed to run or denied.</p>
    ${dailyDecisionsChart("Admission decisions per day", days)}
    <p><a href="/ui/decisions">The decision log →</a></p>
  </section>
</div>
<div class="grid-2">
  <section class="card" aria-labelledby="repo-h">
    <h2 id="repo-h">Non-compliant images by repository</h2>
    ${
      repositories.length === 0
        ? html`<p class="empty">No non-compliant images. <span aria-hidden="true">🎉</span></p>`
        : html`<div class="table-wrap"><table class="table">
      <thead><tr><th scope="col">Repository</th><th scope="col" class="num">Non-compliant</th><th scope="col" class="num">Images</th></tr></thead>
      <tbody>${repositories.map(
        (r) => html`<tr><th scope="row">${
          // Images whose report names no repository cannot be filtered to: no link rather than one to every non-compliant image.
          r.repository === null
            ? html`<span class="muted">(unknown repository)</span>`
            : html`<a href="${href("/ui/images", { repository: r.repository, status: "non_compliant" })}">${r.repository}</a>`
        }</th>
          <td class="num"><strong>${r.non_compliant}</strong></td><td class="num">${r.total}</td></tr>`,
      )}</tbody></table></div>`
    }
  </section>
  <section class="card" aria-labelledby="exp-h">
    <h2 id="exp-h">Exceptions expiring in the next 7 days</h2>
    ${
      expiring.length === 0
        ? html`<p class="empty">None expire in the next 7 days.</p>`
        : html`<div class="table-wrap"><table class="table">
      <thead><tr><th scope="col">Vulnerability</th><th scope="col">Scope</th><th scope="col">Expires</th></tr></thead>
      <tbody>${expiring.map(
        (e) => html`<tr><th scope="row"><a href="/ui/vulnerabilities/${encodeURIComponent(e.vulnerability_id)}">${e.vulnerability_id}</a></th>
          <td>${e.image_digest ? shortDigest(e.image_digest) : ""} ${e.repository ? html`<code>${e.repository}</code>` : ""}${!e.image_digest && !e.repository ? "everywhere" : ""}</td>
          <td>${time(e.expires_at)}</td></tr>`,
      )}</tbody></table></div>`
    }
    <p><a href="/ui/exceptions">All exceptions →</a></p>
  </section>
</div>`;
    sendPage(res, layout(viewContext(req), { title: "Overview", section: "overview" }, content));
  });
}
