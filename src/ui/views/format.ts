import { html, type SafeHtml } from "../html";

/** `2026-11-28 10:11 UTC` in a <time> element that carries the exact instant. */
export function time(value: Date | string | null | undefined, fallback = "—"): SafeHtml {
  if (!value) return html`<span class="muted">${fallback}</span>`;
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return html`${String(value)}`;
  const text = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

/** A digest shortened for tables (sha256:0123456789ab…), the whole value in the tooltip and for screen readers. */
export function shortDigest(digest: string): SafeHtml {
  const short = digest.length > 19 ? digest.slice(0, 19) + "…" : digest;
  return html`<code class="digest" title="${digest}">${short}</code>`;
}

export function plural(n: number, one: string, many = one + "s"): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export function number(n: number | string | null | undefined): string {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}
