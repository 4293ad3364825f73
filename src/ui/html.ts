/**
 * HTML templating that escapes by default. `html\`<p>${value}</p>\`` escapes every interpolated value unless it is
 * itself SafeHtml (the result of another `html` template or of `raw`), so text from reports — package names, titles,
 * tags — can never become markup. Arrays are joined, null/undefined/false render as nothing.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export type Renderable = SafeHtml | string | number | boolean | null | undefined | readonly Renderable[];

function render(value: Renderable): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks trusted markup (generated here, never from input) as safe. Use sparingly: for SVG numbers and constants. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** A URL path with query parameters, each value URI-encoded; empty values are left out. */
export function href(path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const params = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return params.length ? `${path}?${params.join("&")}` : path;
}
