import type { Principal } from "../../auth/scopes";
import { SEVERITIES, type Severity } from "../../domain/severity";
import type { ComplianceStatus } from "../../domain/verdict";
import { href, html, raw, type Renderable, type SafeHtml } from "../html";
import { shortDigest } from "./format";

/** What every view needs to know about the person looking at it. */
export interface ViewContext {
  principal: Principal;
  csrfToken: string;
  canWrite: boolean;
  path: string;
}

const STATUS_LABEL: Record<ComplianceStatus, { text: string; icon: string }> = {
  compliant: { text: "Compliant", icon: "✓" },
  non_compliant: { text: "Non-compliant", icon: "✕" },
  stale: { text: "Stale", icon: "◷" },
  not_scanned: { text: "Not scanned", icon: "?" },
};

export function statusLabel(status: string): string {
  return STATUS_LABEL[status as ComplianceStatus]?.text ?? status;
}

/** Verdict badge: colour and an icon for a glance, the word for everyone (never colour alone). */
export function statusBadge(status: string): SafeHtml {
  const label = STATUS_LABEL[status as ComplianceStatus] ?? { text: status, icon: "•" };
  return html`<span class="badge badge-${status.replace(/[^a-z_]/g, "")}"><span aria-hidden="true">${label.icon}</span> ${label.text}</span>`;
}

export function severityBadge(severity: string): SafeHtml {
  const s = (SEVERITIES as readonly string[]).includes(severity) ? severity.toLowerCase() : "unknown";
  return html`<span class="sev sev-${s}">${severity}</span>`;
}

export type SeverityCounts = Record<Lowercase<Severity>, number>;

/**
 * A stacked bar of an image's findings by severity. Given `largest` (the largest total among the rows shown
 * together), the bar's length is proportional to the total: 236 findings draw a full bar, 3 a short one. Each
 * severity's segment is proportional to its count, but at least 2 px, so one critical stays visible next to 400
 * lows. Without `largest` the bar is full width. The counts are spelled out beside it.
 */
export function severityBar(counts: SeverityCounts, largest?: number): SafeHtml {
  const entries = SEVERITIES.map((s) => ({ key: s.toLowerCase() as Lowercase<Severity>, n: counts[s.toLowerCase() as Lowercase<Severity>] ?? 0 }));
  const total = entries.reduce((a, e) => a + e.n, 0);
  const label = total === 0 ? "No vulnerabilities" : entries.filter((e) => e.n > 0).map((e) => `${e.n} ${e.key}`).join(", ");
  if (total === 0) return html`<span class="sevbar-none">none</span>`;
  const width = 120;
  const length = largest && largest > total ? Math.max(4, (total / largest) * width) : width;
  let x = 0;
  const rects = entries
    .map((e) => {
      if (e.n === 0) return "";
      const w = Math.max(2, (e.n / total) * length);
      const r = `<rect class="fill-${e.key}" x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="10"></rect>`;
      x += w;
      return r;
    })
    .join("");
  const text = entries.filter((e) => e.n > 0 && e.key !== "unknown").map((e) => html`<span class="c-${e.key}">${e.n}${e.key[0]!.toUpperCase()}</span>`);
  return html`<span class="sevbar" title="${label}"><svg role="img" aria-label="${label}" width="${width}" height="10" viewBox="0 0 ${width} 10">${raw(rects)}</svg><span class="sevbar-counts" aria-hidden="true">${text}</span></span>`;
}

/** Hidden field carrying the session's CSRF token: every form that posts includes it. */
export function csrfField(ctx: ViewContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrfToken}">`;
}

export function pager(path: string, query: Record<string, string | undefined>, links: { first?: boolean; next?: string | null; prev?: string | null }): SafeHtml {
  const items: Renderable[] = [];
  if (links.first) items.push(html`<a class="button secondary" href="${href(path, { ...query, after: undefined, page: undefined })}">« First page</a>`);
  if (links.prev) items.push(html`<a class="button secondary" href="${links.prev}" rel="prev">‹ Previous</a>`);
  if (links.next) items.push(html`<a class="button secondary" href="${links.next}" rel="next">Next page ›</a>`);
  if (items.length === 0) return html``;
  return html`<nav class="pager" aria-label="Pagination">${items}</nav>`;
}

export function notice(kind: "success" | "error" | "info", body: Renderable): SafeHtml {
  return html`<div class="notice notice-${kind}" role="${kind === "error" ? "alert" : "status"}">${body}</div>`;
}

export function errorList(errors: ReadonlyArray<{ path: string; message: string }>): SafeHtml {
  if (errors.length === 0) return html``;
  return notice(
    "error",
    html`<p><strong>Please correct the form:</strong></p><ul>${errors.map((e) => html`<li>${e.path ? html`<code>${e.path}</code>: ` : ""}${e.message}</li>`)}</ul>`,
  );
}

/** The list of reasons a verdict gives, each with the IDs that caused it linked to the vulnerability page. */
export function reasonList(
  reasons: ReadonlyArray<{ code: string; message: string; ids?: string[]; total?: number }>,
  none: Renderable = "No reasons: nothing in the current report breaks the policy.",
): SafeHtml {
  if (reasons.length === 0) return html`<p class="muted">${none}</p>`;
  return html`<ul class="reasons">${reasons.map(
    (r) =>
      html`<li><span class="reason-code">${r.code}</span> ${r.message}${
        r.ids?.length
          ? html`<div class="reason-ids">${r.ids.map((id) => html`<a href="/ui/vulnerabilities/${encodeURIComponent(id)}">${id}</a> `)}${
              r.total && r.total > r.ids.length ? html`<span class="muted">and ${r.total - r.ids.length} more</span>` : ""
            }</div>`
          : ""
      }</li>`,
  )}</ul>`;
}

/**
 * An image as people name it, `repository:tag` (the first tag, "+N" when there are more), linked to its page, with
 * the short digest under it; an image with no stored row (or no repository) shows its digest alone.
 */
export function imageLabel(digest: string, image: { repository: string | null; tags: readonly string[] } | undefined): SafeHtml {
  const repository = image?.repository ?? null;
  const tags = image?.tags ?? [];
  const name = repository ? `${repository}${tags[0] ? `:${tags[0]}` : ""}` : tags[0] ?? null;
  return html`<a href="/ui/images/${digest}">${name ?? shortDigest(digest)}</a>${tags.length > 1 ? html` <span class="muted small">+${tags.length - 1} tag${tags.length > 2 ? "s" : ""}</span>` : ""}${
    name ? html`<div>${shortDigest(digest)}</div>` : ""
  }`;
}
