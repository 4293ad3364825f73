import type { Router } from "express";
import { exceptionIdSchema } from "../../http/policy-schemas";
import { safeNext } from "../forms";
import { href, html } from "../html";
import { requireUiScope, verifyCsrf } from "../session/middleware";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { exceptionsTable } from "../views/exceptions-table";
import { layout } from "../views/layout";
import { notFound } from "../../domain/errors";

const STATES = [
  { key: "active", label: "Active" },
  { key: "expired", label: "Expired" },
  { key: "revoked", label: "Withdrawn" },
  { key: "all", label: "All" },
] as const;

/** Every exception by state, with withdraw buttons; granting happens on the image and vulnerability pages. */
export function registerExceptions(router: Router, ui: UiContext): void {
  router.get("/ui/exceptions", async (req, res) => {
    const stateParam = queryValue(req, "state");
    const state = STATES.find((s) => s.key === stateParam)?.key ?? "active";
    const rows = await ui.exceptions.list({ state });
    const images = await ui.deps.reading.imagesByDigest(rows.flatMap((e) => (e.image_digest ? [e.image_digest] : [])));
    const ctx = viewContext(req);
    const notices = queryValue(req, "withdrawn") ? notice("success", "Exception withdrawn; the images it covered were re-evaluated.") : "";
    const content = html`
<div class="page-head"><h1>Exceptions</h1>
  <p class="muted">Accepted risks: a vulnerability that does not count for the images in scope until it expires or is withdrawn.
  ${ctx.canWrite ? "Grant new ones from an image's or a vulnerability's page." : ""}</p></div>
<nav class="tabs" aria-label="Exception state">${STATES.map(
      (s) => html`<a href="${href("/ui/exceptions", { state: s.key === "active" ? undefined : s.key })}"${s.key === state ? html` aria-current="page"` : ""}>${s.label}</a>`,
    )}</nav>
<section class="card">${exceptionsTable(ctx, rows, { showVulnerability: true, returnTo: href("/ui/exceptions", { state: state === "active" ? undefined : state }), images })}</section>`;
    sendPage(res, layout(ctx, { title: "Exceptions", section: "exceptions", notices }, content));
  });

  router.post("/ui/exceptions/:id/withdraw", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const parsed = exceptionIdSchema.safeParse({ id: req.params.id });
    if (!parsed.success) throw notFound("exception_not_found", "No such exception.");
    const revoked = await ui.exceptions.revoke(parsed.data.id, req.uiSession!.principal.name);
    ui.deps.logger.info({ exception: revoked.id, by: revoked.revoked_by, changed: revoked.changed, via: "dashboard" }, "exception withdrawn");
    const back = safeNext(req.body?.return_to);
    res.redirect(303, back + (back.includes("?") ? "&" : "?") + "withdrawn=1");
  });
}
