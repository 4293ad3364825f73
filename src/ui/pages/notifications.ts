import type { Request, Response, Router } from "express";
import { hasScope } from "../../auth/scopes";
import { fieldErrorsFromZod, notFound, type FieldError } from "../../domain/errors";
import { destinationCreateBodySchema, notificationIdSchema, ruleCreateBodySchema } from "../../http/notification-schemas";
import { href, html } from "../html";
import { requireUiScope, verifyCsrf } from "../session/middleware";
import { queryValue, sendPage, viewContext, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { layout } from "../views/layout";
import { deliveriesTable, destinationForm, destinationsTable, ruleForm, rulesTable, type FormValues } from "../views/notifications-view";

const PAGE = "/ui/settings/notifications";

type Fields = Record<string, string | string[] | undefined>;
const one = (v: unknown): string => (Array.isArray(v) ? String(v[0] ?? "") : typeof v === "string" ? v : "");
const many = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === "string" && v !== "" ? [v] : []);
const optional = (v: unknown): string | undefined => (one(v).trim() === "" ? undefined : one(v).trim());

interface RenderExtra {
  status?: number;
  destinationErrors?: FieldError[];
  ruleErrors?: FieldError[];
  values?: FormValues;
}

/**
 * Settings → Notifications: destinations (admin adds, tests and deletes them), rules (policy:write) and the most
 * recent delivery attempts. Forms post the API's own request bodies, validated by the API's schemas, with CSRF.
 * Destination URLs are shown as their origin only: the path of a Slack URL is its credential.
 */
export function registerNotifications(router: Router, ui: UiContext): void {
  const settings = () => ui.deps.notifications;

  const render = async (req: Request, res: Response, extra: RenderExtra = {}) => {
    const ctx = viewContext(req);
    const isAdmin = hasScope(ctx.principal, "admin");
    const [destinations, rules, recent] = await Promise.all([settings().listDestinations(), settings().listRules(), settings().listDeliveries({ limit: 50 })]);
    const names = new Map(destinations.map((d) => [d.id, d.name]));
    const notices = [];
    const tested = queryValue(req, "tested");
    if (tested) {
      const last = recent.items.find((d) => d.destinationId === tested && d.eventType === "test");
      if (last)
        notices.push(
          last.status === "delivered"
            ? notice("success", html`Test message to <strong>${names.get(tested) ?? tested}</strong> delivered (HTTP ${last.responseStatus}).`)
            : notice("error", html`Test message to <strong>${names.get(tested) ?? tested}</strong> not delivered: ${last.error}`),
        );
    }
    for (const [key, text] of [
      ["added", "Destination added."],
      ["deleted", "Destination deleted, with its rules."],
      ["rule_added", "Rule added."],
      ["rule_deleted", "Rule deleted."],
    ] as const)
      if (queryValue(req, key)) notices.push(notice("success", text));
    const content = html`
<div class="page-head"><h1>Notifications</h1>
  <p class="muted">Verdict changes, runtime violations and expiring exceptions, sent to webhooks, Slack and CloudEvents receivers.
  Each is written with the change that caused it and retried for 24 hours. <a href="/docs">API</a></p></div>
<section class="card" aria-labelledby="destinations-h"><h2 id="destinations-h">Destinations</h2>
  ${destinationsTable(ctx, destinations, isAdmin)}
  ${isAdmin ? destinationForm(ctx, extra.destinationErrors ?? [], extra.values ?? {}) : html`<p class="help">Adding, testing and deleting destinations needs an admin token.</p>`}
</section>
<section class="card" aria-labelledby="rules-h"><h2 id="rules-h">Rules</h2>
  ${rulesTable(ctx, rules)}
  ${ctx.canWrite ? ruleForm(ctx, destinations, extra.ruleErrors ?? [], extra.values ?? {}) : ""}
</section>
<section class="card" aria-labelledby="deliveries-h"><h2 id="deliveries-h">Recent deliveries</h2>
  ${deliveriesTable(recent.items, names)}
</section>`;
    sendPage(res, layout(ctx, { title: "Notifications", section: "notifications", notices: html`${notices}` }, content), extra.status);
  };

  router.get(PAGE, (req, res) => render(req, res));

  router.post(`${PAGE}/destinations`, verifyCsrf, requireUiScope("admin"), async (req, res) => {
    const body = req.body as Fields;
    const parsed = destinationCreateBodySchema.safeParse({ name: one(body.name), type: one(body.type), url: one(body.url), secret: optional(body.secret) });
    if (!parsed.success) {
      await render(req, res, { status: 422, destinationErrors: fieldErrorsFromZod(parsed.error.issues), values: { name: one(body.name), type: one(body.type), url: one(body.url) } });
      return;
    }
    try {
      const stored = await settings().createDestination({ ...parsed.data, secret: parsed.data.secret ?? null }, req.uiSession!.principal.name);
      ui.deps.logger.info({ destination: stored.id, name: stored.name, type: stored.type, by: req.uiSession!.principal.name, via: "dashboard" }, "notification destination created");
    } catch (error) {
      const e = error as { kind?: string; message: string; errors?: FieldError[] };
      if (e.kind !== "invalid" && e.kind !== "conflict") throw error;
      const errors = (e.errors ?? [{ path: "name", message: e.message }]).map((f) => ({ ...f, path: f.path.replace(/^body\./, "") }));
      await render(req, res, { status: e.kind === "conflict" ? 409 : 422, destinationErrors: errors, values: { name: one(body.name), type: one(body.type), url: one(body.url) } });
      return;
    }
    res.redirect(303, href(PAGE, { added: 1 }));
  });

  const idFrom = (req: Request, what: string) => {
    const parsed = notificationIdSchema.safeParse({ id: req.params.id });
    if (!parsed.success) throw notFound(`${what}_not_found`, `No such notification ${what}.`);
    return parsed.data.id;
  };

  router.post(`${PAGE}/destinations/:id/test`, verifyCsrf, requireUiScope("admin"), async (req, res) => {
    const id = idFrom(req, "destination");
    await settings().testDestination(id);
    res.redirect(303, href(PAGE, { tested: id }));
  });

  router.post(`${PAGE}/destinations/:id/delete`, verifyCsrf, requireUiScope("admin"), async (req, res) => {
    const gone = await settings().deleteDestination(idFrom(req, "destination"));
    ui.deps.logger.info({ destination: gone.id, by: req.uiSession!.principal.name, via: "dashboard" }, "notification destination deleted");
    res.redirect(303, href(PAGE, { deleted: 1 }));
  });

  router.post(`${PAGE}/rules`, verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    const body = req.body as Fields;
    const values: FormValues = {
      rule_name: one(body.rule_name),
      destination_id: one(body.destination_id),
      events: many(body.events),
      repository: one(body.repository),
      cluster: one(body.cluster),
      namespace: one(body.namespace),
      min_severity: one(body.min_severity),
      open_incident: one(body.open_incident),
    };
    const parsed = ruleCreateBodySchema.safeParse({
      name: values.rule_name,
      destination_id: values.destination_id,
      events: values.events,
      repository: optional(body.repository),
      cluster: optional(body.cluster),
      namespace: optional(body.namespace),
      min_severity: optional(body.min_severity),
      open_incident: one(body.open_incident) === "on",
    });
    if (!parsed.success) {
      const errors = fieldErrorsFromZod(parsed.error.issues).map((e) => ({ ...e, path: e.path === "name" ? "rule_name" : e.path }));
      await render(req, res, { status: 422, ruleErrors: errors, values });
      return;
    }
    const r = parsed.data;
    try {
      await settings().createRule(
        { name: r.name, destinationId: r.destination_id, events: r.events, repository: r.repository ?? null, cluster: r.cluster ?? null, namespace: r.namespace ?? null, minSeverity: r.min_severity ?? null, openIncident: r.open_incident ?? false },
        req.uiSession!.principal.name,
      );
    } catch (error) {
      const e = error as { kind?: string; errors?: FieldError[] };
      if (e.kind !== "invalid") throw error;
      await render(req, res, { status: 422, ruleErrors: (e.errors ?? []).map((f) => ({ ...f, path: f.path.replace(/^body\./, "") })), values });
      return;
    }
    res.redirect(303, href(PAGE, { rule_added: 1 }));
  });

  router.post(`${PAGE}/rules/:id/delete`, verifyCsrf, requireUiScope("policy:write"), async (req, res) => {
    await settings().deleteRule(idFrom(req, "rule"));
    res.redirect(303, href(PAGE, { rule_deleted: 1 }));
  });
}

