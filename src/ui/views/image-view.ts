import type { ImageScanRow } from "../../db/image-scan-repository";
import { FINDING_KINDS, SEVERITIES } from "../../domain/severity";
import type { ExceptionRow } from "../../policy/exception-service";
import { href, html, type SafeHtml } from "../html";
import type { DecisionRow } from "../../db/decision-repository";
import type { FindingPageRow, FindingSort } from "../../db/finding-repository";
import type { ReportHistoryRow } from "../../db/report-repository";
import { pager, reasonList, severityBadge, severityBar, statusBadge, type ViewContext } from "./components";
import { exceptionGrantForm } from "./exception-form";
import { number, time } from "./format";

export interface FindingQuery {
  severity?: string | undefined;
  kind?: string | undefined;
  fixable?: "yes" | "no" | undefined;
  sort: FindingSort;
  page: number;
}

export interface ImagePageData {
  image: ImageScanRow;
  findings: FindingPageRow[];
  findingTotal: number;
  findingQuery: FindingQuery;
  pageSize: number;
  reports: ReportHistoryRow[];
  decisions: DecisionRow[];
  choices: Array<{ id: string; severity: string }>;
  preselected: ReadonlySet<string>;
  exceptions: ExceptionRow[];
  errors?: Array<{ path: string; message: string }> | undefined;
  values?: Record<string, string | undefined> | undefined;
  today: Date;
}

const SORT_LABEL: Record<FindingSort, string> = { severity: "Severity", id: "ID", package: "Package", fixed: "Fix available", kind: "Kind" };

function findingsSection(ctx: ViewContext, d: ImagePageData): SafeHtml {
  const base = `/ui/images/${d.image.image_digest}`;
  const fq = d.findingQuery;
  const keep = { severity: fq.severity, kind: fq.kind, fixable: fq.fixable };
  const sortHeader = (key: FindingSort, label: string) => {
    const active = fq.sort === key;
    return html`<th scope="col"${active ? html` aria-sort="ascending"` : ""}><a href="${href(base, { ...keep, sort: key })}#findings">${label}${active ? html` <span aria-hidden="true">▲</span>` : ""}</a></th>`;
  };
  const pages = Math.max(1, Math.ceil(d.findingTotal / d.pageSize));
  const pageLink = (p: number) => href(base, { ...keep, sort: fq.sort, page: p }) + "#findings";
  return html`<section class="card" id="findings" aria-labelledby="findings-h">
  <h2 id="findings-h">Findings <span class="count">${number(d.findingTotal)}</span></h2>
  <form class="filters inline" method="get" action="${base}#findings" aria-label="Filter findings">
    <input type="hidden" name="sort" value="${fq.sort}">
    <div class="field"><label for="ff-sev">Severity</label><select id="ff-sev" name="severity"><option value="">Any</option>${SEVERITIES.map(
      (s) => html`<option value="${s}"${fq.severity === s ? html` selected` : ""}>${s}</option>`,
    )}</select></div>
    <div class="field"><label for="ff-kind">Kind</label><select id="ff-kind" name="kind"><option value="">Any</option>${FINDING_KINDS.map(
      (k) => html`<option value="${k}"${fq.kind === k ? html` selected` : ""}>${k}</option>`,
    )}</select></div>
    <div class="field"><label for="ff-fix">Fixable</label><select id="ff-fix" name="fixable"><option value="">Any</option>
      <option value="yes"${fq.fixable === "yes" ? html` selected` : ""}>Fix available</option>
      <option value="no"${fq.fixable === "no" ? html` selected` : ""}>No fix</option></select></div>
    <div class="field actions"><button class="button secondary" type="submit">Filter</button></div>
  </form>
  <p class="muted small">Sorted by ${SORT_LABEL[fq.sort].toLowerCase()}. Choose a column heading to sort by it.
    Export these findings (every page): <a href="${href(base, { ...keep, sort: fq.sort, format: "csv" })}">CSV</a> · <a href="${href(base, { ...keep, sort: fq.sort, format: "json" })}">JSON</a></p>
  ${
    d.findings.length === 0
      ? html`<p class="empty">No findings match.</p>`
      : html`<div class="table-wrap"><table class="table findings-table">
    <caption class="sr-only">Findings of the current report</caption>
    <thead><tr>${sortHeader("severity", "Severity")}${sortHeader("id", "ID")}<th scope="col" class="num">CVSS</th>${sortHeader("package", "Package")}
      <th scope="col">Installed</th>${sortHeader("fixed", "Fixed in")}<th scope="col">Target</th>${sortHeader("kind", "Kind")}<th scope="col">Exception</th></tr></thead>
    <tbody>${d.findings.map(
      (f) => html`<tr${f.excepted ? html` class="excepted"` : ""}>
      <td>${severityBadge(f.severity)}</td>
      <th scope="row"><a href="/ui/vulnerabilities/${encodeURIComponent(f.vulnerability_id)}">${f.vulnerability_id}</a>
        ${f.title ? html`<div class="small muted clamp">${f.title}</div>` : ""}</th>
      <td class="num">${f.cvss_score === null ? html`<span class="muted">—</span>` : f.cvss_score.toFixed(1)}</td>
      <td class="package">${f.pkg_name ?? html`<span class="muted">—</span>`}${f.pkg_type ? html`<div class="small muted">${f.pkg_type}</div>` : ""}</td>
      <td><code>${f.installed_version ?? ""}</code></td>
      <td>${f.fixed_version ? html`<code>${f.fixed_version}</code>` : html`<span class="muted">no fix</span>`}</td>
      <td class="target">${f.target ? html`<code class="path">${f.target}</code>` : html`<span class="muted">—</span>`}${f.class ? html`<div class="small muted">${f.class}</div>` : ""}</td>
      <td>${f.kind}${f.status ? html`<div class="small muted">${f.status}</div>` : ""}</td>
      <td>${
        f.excepted
          ? html`<span class="badge badge-excepted"><span aria-hidden="true">⚑</span> Excepted</span>`
          : ctx.canWrite && f.status !== "not_affected"
            ? html`<a class="small" href="${href(`/ui/images/${d.image.image_digest}`, { grant: f.vulnerability_id })}#grant">Accept risk…</a>`
            : ""
      }</td>
    </tr>`,
    )}</tbody></table></div>
    ${pager(base, {}, {
      prev: fq.page > 1 ? pageLink(fq.page - 1) : null,
      next: fq.page < pages ? pageLink(fq.page + 1) : null,
    })}${pages > 1 ? html`<p class="muted small">Page ${fq.page} of ${pages}</p>` : ""}`
  }
</section>`;
}

export function imagePage(ctx: ViewContext, d: ImagePageData): SafeHtml {
  const i = d.image;
  const critical = d.choices.filter((c) => c.severity === "CRITICAL").length;
  return html`
<nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/images">Images</a> <span aria-hidden="true">›</span> <span>${i.repository ?? "image"}</span></nav>
<div class="page-head image-head">
  <div>
    <h1>${i.repository ?? "(unknown repository)"}</h1>
    <div class="tags">${i.tags.map((t) => html`<span class="tag">${t}</span>`)}</div>
    <p class="digest-full"><code>${i.image_digest}</code></p>
  </div>
  <div class="verdict verdict-${i.status}">${statusBadge(i.status)}<span class="small muted">policy v${i.policy_version}, evaluated ${time(i.evaluated_at)}</span></div>
</div>
<div class="grid-2">
  <section class="card" aria-labelledby="verdict-h">
    <h2 id="verdict-h">Why ${i.is_compliant ? "it may run" : "it may not run"}</h2>
    ${reasonList(i.reasons)}
    ${i.valid_until ? html`<p class="small muted">This verdict holds until ${time(i.valid_until)} (an exception ends or the scan goes stale).</p>` : ""}
    <dl class="facts">
      <dt>Scanned</dt><dd>${time(i.scanned_at)}</dd>
      <dt>First seen</dt><dd>${time(i.first_seen_at)}</dd>
      <dt>Vulnerabilities</dt><dd>${severityBar({ critical: i.critical_count, high: i.high_count, medium: i.medium_count, low: i.low_count, unknown: i.unknown_count })}</dd>
      <dt>Fixable</dt><dd>${number(i.fixable_count)}</dd>
      <dt>Secrets</dt><dd>${number(i.secret_count)}</dd>
      <dt>Misconfigurations</dt><dd>${number(i.misconfiguration_count)}</dd>
    </dl>
  </section>
  <section class="card" aria-labelledby="exc-h">
    <h2 id="exc-h">Exceptions in force <span class="count">${d.exceptions.length}</span></h2>
    ${
      d.exceptions.length === 0
        ? html`<p class="muted">None cover this image.</p>`
        : html`<ul class="plain-list">${d.exceptions.slice(0, 20).map(
            (e) => html`<li><a href="/ui/vulnerabilities/${encodeURIComponent(e.vulnerability_id)}">${e.vulnerability_id}</a>
              <span class="muted small">${e.image_digest ? "this image" : e.repository ? html`<code>${e.repository}</code>` : "everywhere"}, until ${time(e.expires_at, "no expiry")}</span></li>`,
          )}</ul>${d.exceptions.length > 20 ? html`<p><a href="/ui/exceptions">All exceptions →</a></p>` : ""}`
    }
    ${
      ctx.canWrite
        ? html`${critical > 0 ? html`<p><a class="small" href="${href(`/ui/images/${i.image_digest}`, { grant: "critical" })}#grant">Select all ${critical} critical IDs in the form below</a></p>` : ""}
          ${exceptionGrantForm(ctx, {
            action: `/ui/images/${i.image_digest}/exceptions`,
            choices: d.choices,
            preselected: d.preselected,
            image: { digest: i.image_digest, repository: i.repository },
            errors: d.errors,
            values: d.values,
            today: d.today,
          })}`
        : ""
    }
  </section>
</div>
${findingsSection(ctx, d)}
<div class="grid-2">
  <section class="card" aria-labelledby="reports-h">
    <h2 id="reports-h">Report history</h2>
    <div class="table-wrap"><table class="table compact">
      <thead><tr><th scope="col">Scanned</th><th scope="col">Format</th><th scope="col" class="num">Findings</th><th scope="col">Source</th><th scope="col">Raw</th></tr></thead>
      <tbody>${d.reports.map(
        (r) => html`<tr${r.id === i.latest_report_id ? html` class="current"` : ""}>
        <td>${time(r.scanned_at)}${r.id === i.latest_report_id ? html` <span class="tag">current</span>` : ""}${r.deleted_at ? html` <span class="tag">withdrawn</span>` : ""}</td>
        <td>${r.format}<div class="small muted">${r.scanner} ${r.scanner_version ?? ""}</div></td>
        <td class="num">${number(r.finding_count)}</td>
        <td>${r.source ?? ""}${r.uploaded_by ? html`<div class="small muted">by ${r.uploaded_by}</div>` : ""}</td>
        <td><a href="/ui/reports/${r.id}/raw" download>Download<span class="sr-only"> report of ${r.scanned_at.toISOString()}</span></a></td>
      </tr>`,
      )}</tbody>
    </table></div>
  </section>
  <section class="card" aria-labelledby="decisions-h">
    <h2 id="decisions-h">Recent admission decisions</h2>
    <p class="small"><a href="${href("/ui/decisions", { digest: i.image_digest })}">All decisions about this image, with export →</a></p>
    ${
      d.decisions.length === 0
        ? html`<p class="muted">Admission has not asked about this image yet.</p>`
        : html`<div class="table-wrap"><table class="table compact decisions-table">
      <thead><tr><th scope="col">When</th><th scope="col">Answer</th><th scope="col">Namespace</th><th scope="col">Asked as</th></tr></thead>
      <tbody>${d.decisions.map(
        (x) => html`<tr><td>${time(x.decided_at)}</td><td>${statusBadge(x.status)}</td><td>${x.namespace ?? html`<span class="muted">—</span>`}</td>
          <td class="small reason">${x.image_ref ?? ""}${x.token_name ? html`<div class="muted">${x.token_name}</div>` : ""}</td></tr>`,
      )}</tbody></table></div>`
    }
  </section>
</div>`;
}

