import { Router } from "express";
import { ATTEMPT_STATUSES, type DeliveryAttempt, type NotificationDestination, type NotificationRule } from "../../domain/notification";
import type { TestResult } from "../../notifications/notification-settings";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import {
  DELIVERY_EVENT_TYPES,
  deliveriesQuerySchema,
  deliveriesResponseSchema,
  destinationCreateBodySchema,
  destinationListSchema,
  destinationSchema,
  notificationIdSchema,
  ruleCreateBodySchema,
  ruleListSchema,
  ruleSchema,
  testBodySchema,
  testResultSchema,
} from "../notification-schemas";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { parseJson, readBody } from "../read-body";
import { parseListQuery, parseOr422 } from "../validate";
import { notFound } from "../../domain/errors";

const BODY_LIMIT = 16 * 1024;

function destinationAnswer(d: NotificationDestination) {
  return { id: d.id, name: d.name, type: d.type, url: d.url, has_secret: d.hasSecret, created_at: d.createdAt.toISOString(), created_by: d.createdBy };
}

function ruleAnswer(r: NotificationRule) {
  return {
    id: r.id,
    name: r.name,
    destination_id: r.destinationId,
    destination_name: r.destinationName,
    destination_type: r.destinationType,
    events: r.events,
    repository: r.repository,
    cluster: r.cluster,
    namespace: r.namespace,
    min_severity: r.minSeverity,
    open_incident: r.openIncident,
    created_at: r.createdAt.toISOString(),
    created_by: r.createdBy,
  };
}

function deliveryAnswer(d: DeliveryAttempt) {
  return {
    id: d.id,
    at: d.at.toISOString(),
    event_id: d.eventId,
    event_type: d.eventType,
    destination_id: d.destinationId,
    destination_type: d.destinationType,
    request_id: d.requestId,
    attempt: d.attempt,
    status: d.status,
    response_status: d.responseStatus,
    error: d.error,
    duration_ms: d.durationMs,
  };
}

function testAnswer(t: TestResult) {
  return { delivered: t.delivered, request_id: t.requestId, response_status: t.responseStatus, error: t.error, duration_ms: t.durationMs };
}

/** An ID in the path that is not a UUID cannot name anything: 404 like any other unknown ID. */
function idOr404(raw: unknown, code: string, what: string): string {
  const parsed = notificationIdSchema.safeParse({ id: raw });
  if (!parsed.success) throw notFound(code, `No ${what} ${String(raw).slice(0, 100)}.`);
  return parsed.data.id;
}

/**
 * /v1/notifications: destinations (admin), rules (policy:write; admin holds it) and the deliveries log
 * (policy:write). Secrets go in with POST and never come out; they are never logged.
 */
export function notificationsRouter(deps: AppDependencies): Router {
  const router = Router();
  const settings = deps.notifications;
  const isAdmin = requireScope(deps.authenticate, "admin");
  const canWritePolicy = requireScope(deps.authenticate, "policy:write");

  router.post("/v1/notifications/destinations", isAdmin, async (req, res) => {
    const body = parseOr422(destinationCreateBodySchema, parseJson(await readBody(req, BODY_LIMIT)), "body");
    const stored = await settings.createDestination({ name: body.name, type: body.type, url: body.url, secret: body.secret ?? null }, req.principal?.name ?? null);
    deps.logger.info({ destination: stored.id, name: stored.name, type: stored.type, signed: stored.hasSecret, by: req.principal?.name }, "notification destination created");
    res.status(201).location(`/v1/notifications/destinations/${stored.id}`).set("Cache-Control", "no-store").json(destinationAnswer(stored));
  });

  router.get("/v1/notifications/destinations", isAdmin, async (_req, res) => {
    res.set("Cache-Control", "no-store").json({ items: (await settings.listDestinations()).map(destinationAnswer) });
  });

  router.delete("/v1/notifications/destinations/:id", isAdmin, async (req, res) => {
    const gone = await settings.deleteDestination(idOr404(req.params.id, "destination_not_found", "notification destination"));
    deps.logger.info({ destination: gone.id, name: gone.name, by: req.principal?.name }, "notification destination deleted");
    res.json(destinationAnswer(gone));
  });

  router.post("/v1/notifications/destinations/:id/test", isAdmin, async (req, res) => {
    // No body is needed; one that is sent must be JSON and empty ({}), like every other body.
    const raw = await readBody(req, BODY_LIMIT);
    if (raw.toString("utf8").trim() !== "") parseOr422(testBodySchema, parseJson(raw), "body");
    const result = await settings.testDestination(idOr404(req.params.id, "destination_not_found", "notification destination"));
    res.json(testAnswer(result));
  });

  router.post("/v1/notifications/rules", canWritePolicy, async (req, res) => {
    const body = parseOr422(ruleCreateBodySchema, parseJson(await readBody(req, BODY_LIMIT)), "body");
    const stored = await settings.createRule(
      {
        name: body.name,
        destinationId: body.destination_id,
        events: body.events,
        repository: body.repository ?? null,
        cluster: body.cluster ?? null,
        namespace: body.namespace ?? null,
        minSeverity: body.min_severity ?? null,
        openIncident: body.open_incident ?? false,
      },
      req.principal?.name ?? null,
    );
    deps.logger.info({ rule: stored.id, destination: stored.destinationId, events: stored.events, by: req.principal?.name }, "notification rule created");
    res.status(201).location(`/v1/notifications/rules/${stored.id}`).json(ruleAnswer(stored));
  });

  router.get("/v1/notifications/rules", canWritePolicy, async (_req, res) => {
    res.json({ items: (await settings.listRules()).map(ruleAnswer) });
  });

  router.delete("/v1/notifications/rules/:id", canWritePolicy, async (req, res) => {
    const gone = await settings.deleteRule(idOr404(req.params.id, "rule_not_found", "notification rule"));
    deps.logger.info({ rule: gone.id, by: req.principal?.name }, "notification rule deleted");
    res.json(ruleAnswer(gone));
  });

  router.get("/v1/notifications/deliveries", canWritePolicy, async (req, res) => {
    const query = parseListQuery(deliveriesQuerySchema, req.query, { status: ATTEMPT_STATUSES, event_type: DELIVERY_EVENT_TYPES }, "422");
    const page = await settings.listDeliveries({
      destinationId: query.destination_id,
      eventId: query.event_id,
      eventType: query.event_type,
      status: query.status,
      limit: query.limit,
      cursor: query.cursor,
    });
    res.json({ items: page.items.map(deliveryAnswer), next_cursor: page.nextCursor });
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  const idParams = { params: notificationIdSchema };
  registry.registerPath({
    method: "post",
    path: "/v1/notifications/destinations",
    tags: ["Notifications"],
    summary: "Create a notification destination (webhook, slack, cloudevents); the secret is write-only",
    ...authenticated("admin"),
    request: { body: jsonBody(destinationCreateBodySchema) },
    responses: { 201: jsonResponse("The stored destination (never its secret)", destinationSchema), ...problems(400, 401, 403, 409, 413, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/notifications/destinations",
    tags: ["Notifications"],
    summary: "List notification destinations (never their secrets)",
    ...authenticated("admin"),
    responses: { 200: jsonResponse("Every destination", destinationListSchema), ...problems(401, 403, 503) },
  });
  registry.registerPath({
    method: "delete",
    path: "/v1/notifications/destinations/{id}",
    tags: ["Notifications"],
    summary: "Delete a destination, its rules and its undelivered notifications (recorded attempts stay)",
    ...authenticated("admin"),
    request: idParams,
    responses: { 200: jsonResponse("The deleted destination", destinationSchema), ...problems(401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/notifications/destinations/{id}/test",
    tags: ["Notifications"],
    summary: "Send a test message now and say how the receiver answered (the attempt is recorded)",
    ...authenticated("admin"),
    request: idParams,
    responses: { 200: jsonResponse("How the test went (delivered or not)", testResultSchema), ...problems(401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/notifications/rules",
    tags: ["Notifications"],
    summary: "Create a notification rule: which events go to which destination",
    ...authenticated("policy:write"),
    request: { body: jsonBody(ruleCreateBodySchema) },
    responses: { 201: jsonResponse("The stored rule", ruleSchema), ...problems(400, 401, 403, 413, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/notifications/rules",
    tags: ["Notifications"],
    summary: "List notification rules",
    ...authenticated("policy:write"),
    responses: { 200: jsonResponse("Every rule", ruleListSchema), ...problems(401, 403, 503) },
  });
  registry.registerPath({
    method: "delete",
    path: "/v1/notifications/rules/{id}",
    tags: ["Notifications"],
    summary: "Delete a notification rule (events already written keep their deliveries)",
    ...authenticated("policy:write"),
    request: idParams,
    responses: { 200: jsonResponse("The deleted rule", ruleSchema), ...problems(401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/notifications/deliveries",
    tags: ["Notifications"],
    summary: "Every delivery attempt, newest first",
    ...authenticated("policy:write"),
    request: { query: deliveriesQuerySchema },
    responses: { 200: jsonResponse("A page of attempts", deliveriesResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
};
