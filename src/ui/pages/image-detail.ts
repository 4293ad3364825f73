import type { Request, Response, Router } from "express";
import type { ImageScanRow } from "../../db/image-scan-repository";
import { FINDING_SORTS, type FindingPageRow, type FindingSort } from "../../db/finding-repository";
import { sendRawReport } from "../../http/send-raw-report";
import { notFound } from "../../domain/errors";
import { isDigest } from "../../domain/image-reference";
import { FINDING_KINDS, SEVERITIES } from "../../domain/severity";
import { parseGrantForm, type FormFields } from "../forms";
import { grantAll } from "../grant-exceptions";
import { href, html } from "../html";
import { requireUiScope, verifyCsrf } from "../session/middleware";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { imagePage, type FindingQuery } from "../views/image-view";
import { incidentMentions } from "../views/incident-view";
import { layout } from "../views/layout";
import { exportFormat, sendExport, type ExportSpec } from "../views/export";
import { runningSection } from "../views/running-view";

const FINDINGS_PAGE = 100;

/** An image's findings export: the API's finding fields plus the CVSS score, in the table's order. */
const FINDINGS_EXPORT: ExportSpec<FindingPageRow> = {
  name: "findings",
  columns: ["vulnerability_id", "severity", "cvss_score", "kind", "pkg_name", "pkg_type", "installed_version", "fixed_version", "status",
    "target", "class", "purl", "title", "excepted"],
  values: (f) => [f.vulnerability_id, f.severity, f.cvss_score, f.kind, f.pkg_name, f.pkg_type, f.installed_version, f.fixed_version, f.status,
    f.target, f.class, f.purl, f.title, f.excepted],
};
const RUNNING_SHOWN = 50;

function parseFindingQuery(req: Request): FindingQuery {
  const severity = queryValue(req, "severity");
  const kind = queryValue(req, "kind");
  const fixable = queryValue(req, "fixable");
  const sort = queryValue(req, "sort");
  const page = Number(queryValue(req, "page") ?? "1");
  return {
    severity: (SEVERITIES as readonly string[]).includes(severity ?? "") ? severity : undefined,
    kind: (FINDING_KINDS as readonly string[]).includes(kind ?? "") ? kind : undefined,
    fixable: fixable === "yes" || fixable === "no" ? fixable : undefined,
    sort: (FINDING_SORTS as readonly string[]).includes(sort ?? "") ? (sort as FindingSort) : "severity",
    page: Number.isInteger(page) && page >= 1 && page <= 10_000 ? page : 1,
  };
}

async function loadImage(ui: UiContext, digest: string): Promise<ImageScanRow> {
  if (!isDigest(digest)) throw notFound("image_not_found", "That is not an image digest (sha256: followed by 64 hex digits).");
  return ui.deps.reading.image(digest);
}

/** An image: verdict and reasons, findings, report history, admission decisions; grant exceptions from here. */
export function registerImageDetail(router: Router, ui: UiContext): void {
  const render = async (req: Request, res: Response, extra: { status?: number; errors?: Array<{ path: string; message: string }>; values?: FormFields } = {}) => {
    const digest = String(req.params.digest);
    const image = await loadImage(ui, digest);
    const fq = parseFindingQuery(req);
    const reading = ui.deps.reading;
    const [findings, reports, decisions, choices, exceptions, incidents, running] = await Promise.all([
      reading.imageFindingsPage(digest, {
        severities: fq.severity ? [fq.severity] : undefined,
        kind: fq.kind,
        fixable: fq.fixable === undefined ? undefined : fq.fixable === "yes",
        sort: fq.sort,
        offset: (fq.page - 1) * FINDINGS_PAGE,
        limit: FINDINGS_PAGE,
      }),
      reading.imageReports(digest),
      reading.latestImageDecisions(digest),
      reading.unexceptedVulnerabilityIds(digest),
      ui.exceptions.list({ state: "active", imageDigest: digest }),
      ui.deps.incidents.linkedTo({ imageDigest: digest, repository: image.repository }),
      reading.runningImage(digest, RUNNING_SHOWN),
    ]);
    const grant = queryValue(req, "grant");
    const preselected = new Set(
      grant === "critical" ? choices.filter((c) => c.severity === "CRITICAL").map((c) => c.id) : grant ? [grant] : [],
    );
    const granted = queryValue(req, "granted");
    const notices = granted
      ? notice("success", html`Exception granted for ${granted} vulnerabilit${granted === "1" ? "y" : "ies"}; the verdict below is already in force.`)
      : "";
    const ctx = viewContext(req);
    const content = imagePage(ctx, {
      image,
      findings: findings.rows,
      findingTotal: findings.total,
      findingQuery: fq,
      pageSize: FINDINGS_PAGE,
      reports,
      decisions,
      choices,
      preselected,
      exceptions,
      errors: extra.errors,
      values: extra.values as Record<string, string | undefined> | undefined,
      today: ui.deps.clock(),
    });
    const withIncidents = html`${content}${runningSection("Running now", running, "No container known to run now runs this image.")}${incidentMentions(ctx, incidents, { image_digest: digest }, "this image")}`;
    sendPage(res, layout(ctx, { title: image.repository ?? digest, section: "images", notices }, withIncidents), extra.status);
  };

  router.get("/ui/images/:digest", async (req, res) => {
    const format = exportFormat(queryValue(req, "format"));
    if (!format) return render(req, res);
    // The findings table's export: the same filters and sort as the table, every page of it.
    const digest = String(req.params.digest);
    await loadImage(ui, digest);
    const fq = parseFindingQuery(req);
    await sendExport(res, format, ui.deps.clock(), { ...FINDINGS_EXPORT, name: `findings-${digest.slice(7, 19)}` }, (onBatch) =>
      ui.deps.reading.streamImageFindings(digest, {
        severities: fq.severity ? [fq.severity] : undefined,
        kind: fq.kind,
        fixable: fq.fixable === undefined ? undefined : fq.fixable === "yes",
        sort: fq.sort,
      }, onBatch),
    );
  });

  router.post("/ui/images/:digest/exceptions", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const digest = String(req.params.digest);
    await loadImage(ui, digest);
    const parsed = parseGrantForm({ ...(req.body as FormFields), image_digest: digest });
    if (!parsed.ok) {
      await render(req, res, { status: 422, errors: parsed.errors, values: req.body as FormFields });
      return;
    }
    const refused = await grantAll(ui, parsed.value, req.uiSession!.principal.name);
    if (refused) {
      await render(req, res, { status: 422, errors: refused, values: req.body as FormFields });
      return;
    }
    res.redirect(303, href(`/ui/images/${digest}`, { granted: parsed.value.length }));
  });

  // The raw report as uploaded, for the signed-in person (the API route wants a bearer token a browser lacks).
  router.get("/ui/reports/:id/raw", async (req, res) => {
    const id = String(req.params.id);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw notFound("report_not_found", "No such report.");
    await sendRawReport(req, res, id, await ui.deps.reading.rawReport(id));
  });
}
