/**
 * Markdown of incident notes and fields, rendered for the dashboard. Two layers, because notes are written by people
 * and read by other people with more rights:
 *
 * 1. markdown-it with `html: false` (raw HTML in the text is shown as text, never as markup), images disabled (a note
 *    cannot make the reader's browser fetch anything), and a link check that accepts only http:, https: and mailto:
 *    links and relative ones (javascript:, data:, vbscript:, file: and every other scheme stay text).
 * 2. An allowlist pass over what markdown-it produced: only the tags and attributes listed below survive, every link
 *    is checked again and gets rel="nofollow noopener noreferrer"; anything else is escaped. markdown-it escapes text,
 *    so every `<` left in its output starts a tag it generated: the pass sees all of them.
 *
 * The pages' Content-Security-Policy (no script at all) is the third layer.
 */
import MarkdownIt from "markdown-it";
import { escapeHtml, raw, type SafeHtml } from "../html";

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
md.disable(["image"]);

const ALLOWED_SCHEMES = new Set(["http", "https", "mailto"]);

/**
 * Whether a link target is safe to follow: no scheme (a relative link or a fragment) or http / https / mailto.
 * Browsers ignore ASCII whitespace and control characters inside a scheme (`java\tscript:`), so they are removed
 * before the scheme is read.
 */
export function isSafeLink(url: string): boolean {
  const compact = url.replace(/[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(compact);
  if (scheme) return ALLOWED_SCHEMES.has(scheme[1]!);
  // No scheme: a path, a query or a fragment. A colon before the first / ? # would be read as a scheme by some parsers.
  const beforePath = compact.split(/[/?#]/, 1)[0]!;
  return !beforePath.includes(":") && !compact.startsWith("\\") && !compact.startsWith("//\\");
}

md.validateLink = isSafeLink;

const TAGS: Record<string, ReadonlySet<string>> = Object.fromEntries(
  Object.entries({
    p: [],
    br: [],
    hr: [],
    h1: [],
    h2: [],
    h3: [],
    h4: [],
    h5: [],
    h6: [],
    blockquote: [],
    ul: [],
    ol: ["start"],
    li: [],
    pre: [],
    code: ["class"],
    em: [],
    strong: [],
    s: [],
    a: ["href", "title"],
    table: [],
    thead: [],
    tbody: [],
    tr: [],
    th: [],
    td: [],
  }).map(([tag, attrs]) => [tag, new Set(attrs)]),
);

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*"[^"]*")?)*)\s*(\/?)>/g;
const ATTRIBUTE = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*"([^"]*)")?/g;

/** Decodes the entities markdown-it writes in attribute values (it writes &amp; &lt; &gt; &quot; and numeric ones). */
function decodeAttribute(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_m, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(Number(lower.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[lower] ?? "";
  });
}

function keepAttribute(tag: string, name: string, value: string): boolean {
  if (name === "href") return isSafeLink(value);
  if (name === "class") return tag === "code" && /^language-[A-Za-z0-9_+-]{1,40}$/.test(value);
  if (name === "start") return /^\d{1,9}$/.test(value);
  return name === "title";
}

/** The allowlist pass: unknown tags are escaped, unknown attributes dropped, links checked and made rel=nofollow. */
export function sanitizeHtml(html: string): string {
  let out = "";
  let last = 0;
  for (const m of html.matchAll(TAG)) {
    const [whole, closing, rawTag, rawAttrs] = m;
    out += escapeStrayMarkup(html.slice(last, m.index));
    last = m.index + whole.length;
    const tag = rawTag!.toLowerCase();
    const allowed = TAGS[tag];
    if (!allowed) {
      out += escapeHtml(whole);
      continue;
    }
    if (closing) {
      out += `</${tag}>`;
      continue;
    }
    const attrs: string[] = [];
    for (const a of rawAttrs!.matchAll(ATTRIBUTE)) {
      const name = a[1]!.toLowerCase();
      const value = decodeAttribute(a[2] ?? "");
      if (allowed.has(name) && keepAttribute(tag, name, value)) attrs.push(` ${name}="${escapeHtml(value)}"`);
    }
    // An <a> whose href was refused stays an inert anchor (no href: not a link).
    if (tag === "a" && attrs.some((a) => a.startsWith(" href="))) attrs.push(' rel="nofollow noopener noreferrer"');
    out += `<${tag}${attrs.join("")}>`;
  }
  out += escapeStrayMarkup(html.slice(last));
  return out;
}

/** Between tags there is only text, already escaped by markdown-it; a `<` or `>` here would be a bug: escape it. */
function escapeStrayMarkup(text: string): string {
  return text.replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"));
}

/** Markdown → sanitised HTML, ready to embed in a page. */
export function renderMarkdown(source: string): SafeHtml {
  return raw(`<div class="markdown">${sanitizeHtml(md.render(source))}</div>`);
}
