import { hasScope } from "../../auth/scopes";
import { html, type Renderable, type SafeHtml } from "../html";
import { csrfField, type ViewContext } from "./components";

export interface PageOptions {
  title: string;
  /** Which navigation entry is current. */
  section?: "overview" | "images" | "running" | "policy" | "exceptions" | "vulnerabilities" | "incidents" | "notifications";
  /** Messages shown above the content (success notices, errors). */
  notices?: Renderable;
}

/** Set once at start: the stylesheet's URL carries its content hash, so browsers may cache it for a year. */
let stylesheetHref = "/ui/static/ui.css";
export function setStylesheetHref(value: string): void {
  stylesheetHref = value;
}

const NAV: Array<{ key: NonNullable<PageOptions["section"]>; href: string; label: string }> = [
  { key: "overview", href: "/ui/", label: "Overview" },
  { key: "images", href: "/ui/images", label: "Images" },
  { key: "vulnerabilities", href: "/ui/vulnerabilities", label: "Vulnerabilities" },
  { key: "running", href: "/ui/running", label: "Running" },
  { key: "policy", href: "/ui/policy", label: "Policy" },
  { key: "exceptions", href: "/ui/exceptions", label: "Exceptions" },
  { key: "incidents", href: "/ui/incidents", label: "Incidents" },
  { key: "notifications", href: "/ui/settings/notifications", label: "Notifications" },
];

const LOGO = html`<svg class="logo" aria-hidden="true" viewBox="0 0 24 24" width="24" height="24"><path d="M12 2 3 6v6c0 5 3.8 9.3 9 10 5.2-.7 9-5 9-10V6l-9-4Z" fill="currentColor" opacity=".25"></path><path d="m8 12.5 2.7 2.7L16.5 9" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"></path></svg>`;

function document(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · scan-registry</title>
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${stylesheetHref}">
</head>
${body}
</html>`;
}

/** The signed-in page shell: header with navigation, who is signed in, sign-out, and the content. */
export function layout(ctx: ViewContext, options: PageOptions, content: Renderable): SafeHtml {
  const role = hasScope(ctx.principal, "admin") ? "admin" : ctx.canWrite ? "can edit" : "read-only";
  return document(
    options.title,
    html`<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
  <div class="wrap header-row">
    <a class="brand" href="/ui/">${LOGO}<span>scan-registry</span></a>
    <nav aria-label="Main">
      <ul class="nav">${NAV.map(
        (n) => html`<li><a href="${n.href}"${n.key === options.section ? html` aria-current="page"` : ""}>${n.label}</a></li>`,
      )}</ul>
    </nav>
    <form class="header-search" method="get" action="/ui/vulnerabilities" role="search">
      <label for="find-vulnerability" class="sr-only">Find a vulnerability by ID</label>
      <input id="find-vulnerability" name="id" type="search" placeholder="Where is CVE-…?" autocomplete="off" required>
      <button type="submit" class="button small">Find</button>
    </form>
    <div class="who">
      <span class="who-name" title="Signed in with token ${ctx.principal.name}">${ctx.principal.name}</span>
      <span class="role role-${role.replace(/\s/g, "-")}">${role}</span>
      <form method="post" action="/ui/logout">${csrfField(ctx)}<button type="submit" class="button small secondary">Sign out</button></form>
    </div>
  </div>
</header>
<main id="main" class="wrap" tabindex="-1">
${options.notices ?? ""}
${content}
</main>
<footer class="site-footer wrap">scan-registry · <a href="/docs">API documentation</a></footer>
</body>`,
  );
}

/** A page without the signed-in chrome: sign-in and error pages seen before a session exists. */
export function bareLayout(title: string, content: Renderable): SafeHtml {
  return document(
    title,
    html`<body class="bare">
<main id="main" class="bare-main">
  <div class="bare-brand">${LOGO}<span>scan-registry</span></div>
  ${content}
</main>
</body>`,
  );
}
