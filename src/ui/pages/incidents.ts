import type { Request, Response, Router } from "express";
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES, type IncidentSeverity, type IncidentStatus } from "../../domain/incident";
import { DomainError, notFound } from "../../domain/errors";
import type { FormFields } from "../forms";
import { parseIncidentUpdateForm, parseLinkForm, parseNoteForm, parseOpenIncidentForm } from "../incident-forms";
import { href } from "../html";
import { requireUiScope, verifyCsrf } from "../session/middleware";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { incidentList, incidentPage, LINK_TYPE_KEYS, openIncidentForm, type FormErrors, type FormValues } from "../views/incident-view";
import { layout } from "../views/layout";

const PAGE_SIZE = 50;
const ACTIVE: readonly IncidentStatus[] = ["open", "investigating", "mitigated"];

const idOf = (req: Request): number => {
  const raw = String(req.params.id);
  if (!/^[1-9]\d{0,17}$/.test(raw)) throw notFound("incident_not_found", "No such incident.");
  return Number(raw);
};

const fieldsOf = (req: Request): FormFields => (req.body ?? {}) as FormFields;

/** A refusal by the use case (an unknown exception to link, too many links) shown on the form, not as an error page. */
async function formErrors<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; errors: FormErrors }> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof DomainError && (error.kind === "invalid" || error.kind === "conflict"))
      return {
        ok: false,
        errors: error.errors?.length ? error.errors.map((e) => ({ path: e.path.replace(/^body\.(links\.\d+\.)?/, ""), message: `${error.message} (${e.message})` })) : [{ path: "", message: error.message }],
      };
    throw error;
  }
}

/** /ui/incidents: the list with filters, one incident with its timeline and links, and the forms that change them. */
export function registerIncidents(router: Router, ui: UiContext): void {
  const incidents = ui.deps.incidents;

  router.get("/ui/incidents", async (req, res) => {
    const viewParam = queryValue(req, "view") ?? "active";
    const view = viewParam === "all" || (INCIDENT_STATUSES as readonly string[]).includes(viewParam) ? viewParam : "active";
    const severityParam = queryValue(req, "severity");
    const severity = (INCIDENT_SEVERITIES as readonly string[]).includes(severityParam ?? "") ? (severityParam as IncidentSeverity) : undefined;
    const beforeParam = queryValue(req, "before");
    const before = beforeParam && /^[1-9]\d{0,17}$/.test(beforeParam) ? Number(beforeParam) : undefined;
    const statuses = view === "all" ? undefined : view === "active" ? ACTIVE : [view as IncidentStatus];
    const page = await incidents.list({ statuses, severities: severity ? [severity] : undefined, limit: PAGE_SIZE, before });
    const filters = { view: view === "active" ? undefined : view, severity };
    const content = incidentList(viewContext(req), {
      rows: page.items,
      view,
      severity,
      nextHref: page.nextCursor === null ? null : href("/ui/incidents", { ...filters, before: page.nextCursor }),
      firstHref: before === undefined ? null : href("/ui/incidents", filters),
    });
    sendPage(res, layout(viewContext(req), { title: "Incidents", section: "incidents" }, content));
  });

  const renderNew = (req: Request, res: Response, values: FormValues, errors: FormErrors, status = 200) =>
    sendPage(res, layout(viewContext(req), { title: "Open an incident", section: "incidents" }, openIncidentForm(viewContext(req), { values, errors })), status);

  // Opened from an image or vulnerability page with the item to link: ?image_digest=… or ?vulnerability_id=… or ?repository=…
  router.get("/ui/incidents/new", requireUiScope("policy:write"), (req, res) => {
    const values: FormValues = {};
    for (const key of LINK_TYPE_KEYS) {
      const v = queryValue(req, key);
      if (v) {
        values.link_type = key;
        values.link_value = v.slice(0, 600);
        break;
      }
    }
    renderNew(req, res, values, []);
  });

  router.post("/ui/incidents", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const parsed = parseOpenIncidentForm(fieldsOf(req));
    if (!parsed.ok) return renderNew(req, res, fieldsOf(req) as FormValues, parsed.errors, 422);
    const opened = await formErrors(() => incidents.open(parsed.value, req.uiSession!.principal.name));
    if (!opened.ok) return renderNew(req, res, fieldsOf(req) as FormValues, opened.errors, 422);
    ui.deps.logger.info({ incident: opened.value.incident.id, by: req.uiSession!.principal.name, via: "dashboard" }, "incident opened");
    res.redirect(303, `/ui/incidents/${opened.value.incident.id}?done=opened`);
  });

  const render = async (req: Request, res: Response, extra: { form?: string; errors?: FormErrors; values?: FormValues; status?: number } = {}) => {
    const id = idOf(req);
    const detail = await incidents.get(id);
    const done = queryValue(req, "done");
    const messages: Record<string, string> = { opened: "Incident opened.", saved: "Changes saved.", unchanged: "Nothing changed.", noted: "Note added.", linked: "Linked.", unlinked: "Link removed." };
    const notices = done && messages[done] ? notice("success", messages[done]!) : "";
    const content = incidentPage(viewContext(req), { ...detail, errors: extra.errors ?? [], values: extra.values ?? {}, form: extra.form });
    sendPage(res, layout(viewContext(req), { title: `#${id} ${detail.incident.title}`, section: "incidents", notices }, content), extra.status);
  };

  router.get("/ui/incidents/:id", (req, res) => render(req, res));

  router.post("/ui/incidents/:id", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const id = idOf(req);
    const parsed = parseIncidentUpdateForm(fieldsOf(req));
    if (!parsed.ok) return render(req, res, { form: "edit", errors: parsed.errors, values: fieldsOf(req) as FormValues, status: 422 });
    const updated = await incidents.update(id, parsed.value, req.uiSession!.principal.name);
    res.redirect(303, `/ui/incidents/${id}?done=${updated.changes.length ? "saved" : "unchanged"}`);
  });

  router.post("/ui/incidents/:id/notes", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const id = idOf(req);
    const parsed = parseNoteForm(fieldsOf(req));
    if (!parsed.ok) return render(req, res, { form: "note", errors: parsed.errors, values: fieldsOf(req) as FormValues, status: 422 });
    await incidents.addNote(id, parsed.value, req.uiSession!.principal.name);
    res.redirect(303, `/ui/incidents/${id}?done=noted#timeline-h`);
  });

  router.post("/ui/incidents/:id/links", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const id = idOf(req);
    const parsed = parseLinkForm(fieldsOf(req));
    if (!parsed.ok) return render(req, res, { form: "link", errors: parsed.errors, values: fieldsOf(req) as FormValues, status: 422 });
    const added = await formErrors(() => incidents.addLink(id, parsed.value, req.uiSession!.principal.name));
    if (!added.ok) return render(req, res, { form: "link", errors: added.errors, values: fieldsOf(req) as FormValues, status: 422 });
    res.redirect(303, `/ui/incidents/${id}?done=linked#links-h`);
  });

  router.post("/ui/incidents/:id/links/:linkId/remove", verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const id = idOf(req);
    const linkId = String(req.params.linkId);
    if (!/^[1-9]\d{0,17}$/.test(linkId)) throw notFound("incident_link_not_found", "No such link.");
    await incidents.removeLink(id, { linkId: Number(linkId) }, req.uiSession!.principal.name);
    res.redirect(303, `/ui/incidents/${id}?done=unlinked#links-h`);
  });
}
