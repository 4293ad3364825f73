import type { Request, Response, Router } from "express";
import type { ImageScanRow } from "../../db/image-scan-repository";
import type { PolicyRules } from "../../domain/policy";
import { dryRunPolicy, type DryRunResult } from "../../policy/dry-run";
import { parsePolicyForm, type FormFields } from "../forms";
import { href, html } from "../html";
import { requireUiScope, verifyCsrf } from "../session/middleware";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { plural } from "../views/format";
import { layout } from "../views/layout";
import { dryRunResult, policyForm, rulesList, versionsTable } from "../views/policy-view";

/** The policy in force, its versions, and (for policy:write) an edit form with a dry run before saving. */
export function registerPolicy(router: Router, ui: UiContext): void {
  const render = async (
    req: Request,
    res: Response,
    extra: { status?: number; candidate?: PolicyRules; dryRun?: DryRunResult; dryRunImages?: Map<string, ImageScanRow>; errors?: Array<{ path: string; message: string }> } = {},
  ) => {
    const [current, versions] = await Promise.all([ui.policy.current(), ui.policy.versions()]);
    const ctx = viewContext(req);
    const saved = queryValue(req, "saved");
    const notices = saved
      ? notice("success", html`Policy version ${saved} is in force; ${plural(Number(queryValue(req, "changed") ?? 0), "image verdict")} changed.`)
      : extra.dryRun
        ? notice("info", html`Dry run finished: <a href="#dry-run">${plural(extra.dryRun.changed, "image")} would change</a>. Nothing was saved.`)
        : "";
    const content = html`
<div class="page-head"><h1>Policy <span class="tag">v${current.version}</span></h1>
  <p class="muted">Set ${current.createdBy ? `by ${current.createdBy}` : ""} on ${current.createdAt.toISOString().slice(0, 10)}. Every image's verdict is evaluated against it; findings with Trivy status <code>not_affected</code> never count.</p></div>
${extra.dryRun ? dryRunResult(extra.dryRun, extra.dryRunImages) : ""}
<div class="grid-2">
  <section class="card" aria-labelledby="rules-h"><h2 id="rules-h">Rules in force</h2>${rulesList(current.rules)}</section>
  ${ctx.canWrite ? html`<section class="card">${policyForm(ctx, extra.candidate ?? current.rules, extra.errors ?? [])}</section>` : ""}
</div>
<section class="card" aria-labelledby="versions-h"><h2 id="versions-h">Versions</h2>${versionsTable(versions)}</section>`;
    sendPage(res, layout(ctx, { title: "Policy", section: "policy", notices }, content), extra.status);
  };

  router.get("/ui/policy", (req, res) => render(req, res));

  router.post("/ui/policy", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const parsed = parsePolicyForm(req.body as FormFields);
    if (!parsed.ok) {
      await render(req, res, { status: 422, errors: parsed.errors });
      return;
    }
    if (req.body?.action === "save") {
      const result = await ui.policy.set(parsed.value, req.uiSession!.principal.name);
      ui.deps.logger.info({ version: result.policy.version, by: result.policy.createdBy, changed: result.changed, via: "dashboard" }, "policy changed");
      res.redirect(303, href("/ui/policy", { saved: result.policy.version, changed: result.changed }));
      return;
    }
    const dryRun = await dryRunPolicy(ui.deps.pool, ui.deps.clock, parsed.value);
    const images = await ui.deps.reading.imagesByDigest(dryRun.changes.slice(0, 500).map((c) => c.imageDigest));
    await render(req, res, { candidate: parsed.value, dryRun, dryRunImages: images });
  });
}
