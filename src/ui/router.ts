import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import express, { Router, type NextFunction, type Request, type Response } from "express";
import type { AppDependencies } from "../http/app-dependencies";
import { toProblem } from "../http/problem";
import { html } from "./html";
import { registerDecisions } from "./pages/decisions";
import { registerExceptions } from "./pages/exceptions";
import { registerNotifications } from "./pages/notifications";
import { registerImageDetail } from "./pages/image-detail";
import { registerImages } from "./pages/images";
import { registerRepositories } from "./pages/repositories";
import { registerIncidents } from "./pages/incidents";
import { registerOverview } from "./pages/overview";
import { registerPolicy } from "./pages/policy";
import { registerRunning } from "./pages/running";
import { registerSignIn } from "./pages/sign-in";
import { registerVulnerability } from "./pages/vulnerability";
import { registerVulnerabilities } from "./pages/vulnerabilities";
import { loadSession, requireSignIn } from "./session/middleware";
import { UiSessionStore } from "./session/session-store";
import { createUiContext, sendPage, viewContext } from "./ui-context";
import { bareLayout, layout, setStylesheetHref } from "./views/layout";

/**
 * The stylesheet lives in src/ui/static; the compiled router (dist/ui) finds it through the same relative path
 * from the package root, so the build needs no copy step.
 */
function loadStatic(name: string): Buffer {
  const candidates = [path.join(__dirname, "static", name), path.resolve(__dirname, "../../src/ui/static", name)];
  for (const file of candidates) if (fs.existsSync(file)) return fs.readFileSync(file);
  throw new Error(`${name} not found (looked in ${candidates.join(", ")})`);
}

/**
 * No script may run on these pages (there is none), styles only from this origin, forms only to this origin,
 * and no framing: a hostile string that slipped past escaping still could not execute.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The web dashboard under /ui: server-rendered pages on the same use cases and repositories as the API. */
export function uiRouter(deps: AppDependencies): Router {
  const router = Router();
  const css = loadStatic("ui.css");
  const favicon = loadStatic("favicon.svg");
  const cssHash = crypto.createHash("sha256").update(css).digest("hex").slice(0, 12);
  setStylesheetHref(`/ui/static/ui.css?v=${cssHash}`);
  const ui = createUiContext(deps, new UiSessionStore(deps.pool, deps.prisma, deps.clock));

  router.get("/ui/static/ui.css", (req, res) => {
    res.set("Content-Type", "text/css; charset=utf-8");
    res.set("Cache-Control", req.query.v === cssHash ? "public, max-age=31536000, immutable" : "no-cache");
    res.set("Content-Length", String(css.length)).end(css);
  });

  // The service's root has nothing of its own: people who type the host name land on the dashboard.
  router.get("/", (_req, res) => res.redirect(302, "/ui/"));
  // One small SVG icon, also at the path browsers ask for by themselves, so no page logs a 404.
  const sendFavicon = (_req: Request, res: Response) => {
    res.set("Content-Type", "image/svg+xml").set("Cache-Control", "public, max-age=86400");
    res.set("Content-Length", String(favicon.length)).end(favicon);
  };
  router.get("/favicon.ico", sendFavicon);
  router.get("/ui/static/favicon.svg", sendFavicon);

  router.use("/ui", (_req: Request, res: Response, next: NextFunction) => {
    res.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    res.set("Cache-Control", "no-store");
    next();
  });
  // Non-strict routing lets "/ui" match "/ui/" too: only the bare path is redirected.
  router.get("/ui", (req, res, next) => (req.path === "/ui" ? res.redirect(301, "/ui/") : next()));
  router.use("/ui", express.urlencoded({ extended: false, limit: "64kb", parameterLimit: 500 }));
  router.use("/ui", loadSession(ui.sessions));

  registerSignIn(router, ui);
  router.use("/ui", requireSignIn);
  registerOverview(router, ui);
  registerImages(router, ui);
  registerRepositories(router, ui);
  registerImageDetail(router, ui);
  registerVulnerabilities(router, ui);
  registerVulnerability(router, ui);
  registerRunning(router, ui);
  registerPolicy(router, ui);
  registerExceptions(router, ui);
  registerDecisions(router, ui);
  registerIncidents(router, ui);
  registerNotifications(router, ui);

  router.use("/ui", (req: Request, res: Response) => {
    sendPage(res, layout(viewContext(req), { title: "Not found" }, errorContent(404, "Not found", `There is no page at ${req.path}.`)), 404);
  });

  // Errors become HTML pages here, with the status the one problem mapper gives them (src/http/problem.ts).
  router.use("/ui", (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const p = toProblem(error);
    if (p.status >= 500) deps.logger.error({ err: error, method: req.method, path: req.path, reqId: req.id }, "dashboard request failed");
    const content = errorContent(p.status, p.title, p.detail);
    sendPage(res, req.uiSession ? layout(viewContext(req), { title: p.title }, content) : bareLayout(p.title, html`<section class="card sign-in">${content}</section>`), p.status);
  });

  return router;
}

function errorContent(status: number, title: string, detail: string) {
  return html`<div class="page-head"><h1>${title}</h1></div>
<div class="card error-card"><p>${detail}</p><p class="muted small">HTTP ${status}</p>
<p><a class="button secondary" href="/ui/">Back to the overview</a></p></div>`;
}
