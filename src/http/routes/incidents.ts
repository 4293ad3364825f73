import { Router, type Request } from "express";
import { z } from "zod";
import type { IncidentListRow, IncidentRow, LinkRow, LinkWithState, NoteRow } from "../../db/incident-repository";
import { badRequest } from "../../domain/errors";
import { targetOf, type IncidentDetail } from "../../incidents/incident-service";
import type { AppDependencies } from "../app-dependencies";
import { requireScope } from "../authenticate";
import {
  incidentCreateBodySchema,
  incidentDetailResponseSchema,
  incidentIdSchema,
  incidentListQuerySchema,
  incidentListResponseSchema,
  incidentPatchBodySchema,
  incidentPatchResponseSchema,
  linkChangeResponseSchema,
  linkRemoveBodySchema,
  linkTargetBodySchema,
  MARKDOWN_MAX,
  noteBodySchema,
  timelineEntrySchema,
} from "../incident-schemas";
import { authenticated, jsonBody, jsonResponse, problems, type OpenAPIRegistry } from "../openapi-registry";
import { parseJson, readBody } from "../read-body";
import { parseListQuery, parseOr400, parseOr422 } from "../validate";
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES } from "../../domain/incident";

/** Four Markdown fields of 64 KiB each, a title and 200 links fit; anything bigger is not an incident. */
const INCIDENT_BODY_LIMIT = 5 * MARKDOWN_MAX;
const SMALL_BODY_LIMIT = MARKDOWN_MAX + 1024;

const iso = (d: Date | null) => d?.toISOString() ?? null;

function incidentAnswer(row: IncidentRow) {
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    severity: row.severity,
    owner: row.owner,
    summary: row.summary,
    root_cause: row.root_cause,
    remediation: row.remediation,
    opened_at: row.opened_at.toISOString(),
    resolved_at: iso(row.resolved_at),
    updated_at: row.updated_at.toISOString(),
    created_by: row.created_by,
  };
}

function timelineAnswer(n: NoteRow) {
  return { id: n.id, kind: n.kind, author: n.author, created_at: n.created_at.toISOString(), body: n.body, field: n.field, from: n.old_value, to: n.new_value };
}

function linkAnswer(l: LinkRow) {
  const t = targetOf(l);
  const base = { id: l.id, type: t.type, created_by: l.created_by, created_at: l.created_at.toISOString() };
  switch (t.type) {
    case "vulnerability":
      return { ...base, vulnerability_id: t.vulnerabilityId };
    case "image":
      return { ...base, image_digest: t.imageDigest };
    case "repository":
      return { ...base, repository: t.repository };
    case "workload":
      return { ...base, workload: t.workload };
    case "violation":
      return { ...base, violation_id: t.violationId };
    case "exception":
      return { ...base, exception_id: t.exceptionId };
  }
}

function linkStateAnswer(l: LinkWithState) {
  const t = targetOf(l);
  const running = { running: l.running, running_non_compliant: l.running_non_compliant };
  switch (t.type) {
    case "image":
      return { known: l.image_status !== null, status: l.image_status ?? "not_scanned", is_compliant: l.image_is_compliant, repository: l.image_repository, ...running };
    case "vulnerability":
      return {
        known: l.vulnerability_title !== null || (l.images ?? 0) > 0,
        status: null,
        is_compliant: null,
        title: l.vulnerability_title,
        severity: l.vulnerability_severity,
        images: l.images,
        non_compliant_images: l.non_compliant_images,
        ...running,
      };
    case "repository":
      return { known: (l.images ?? 0) > 0, status: null, is_compliant: null, images: l.images, non_compliant_images: l.non_compliant_images, ...running };
    case "workload":
      return { known: (l.running ?? 0) > 0, status: (l.running ?? 0) > 0 ? "running" : "not_running", is_compliant: (l.running ?? 0) > 0 ? l.running_non_compliant === 0 : null, statuses: l.workload_statuses ?? [], ...running };
    case "violation":
      return {
        known: l.violation_state !== null,
        status: l.violation_state,
        is_compliant: null,
        image_status: l.violation_status,
        image_digest: l.violation_image_digest,
        workload: l.violation_workload,
        opened_at: iso(l.violation_opened_at),
        resolved_at: iso(l.violation_resolved_at),
        resolution: l.violation_resolution,
        still_running: l.violation_still_running,
      };
    case "exception":
      return { known: l.exception_state !== null, status: l.exception_state, is_compliant: null, scope: l.exception_scope || "everywhere", expires_at: iso(l.exception_expires_at) };
  }
}

function incidentDetailAnswer(d: IncidentDetail) {
  return {
    ...incidentAnswer(d.incident),
    timeline: d.timeline.map(timelineAnswer),
    links: d.links.map((l) => ({ ...linkAnswer(l), current: linkStateAnswer(l) })),
  };
}

const listItemAnswer = (r: IncidentListRow) => ({ ...incidentAnswer(r), link_count: r.link_count, note_count: r.note_count });

const author = (req: Request) => req.principal?.name ?? "unknown";

/**
 * Incidents: read with compliance:read (whoever reads verdicts may read what went wrong with them), written with
 * policy:write (the security engineers who own policy and exceptions).
 */
export function incidentsRouter(deps: AppDependencies): Router {
  const router = Router();
  const incidents = deps.incidents;
  const canRead = requireScope(deps.authenticate, "compliance:read");
  const canWrite = requireScope(deps.authenticate, "policy:write");
  const idOf = (req: Request) => parseOr400(incidentIdSchema, req.params, "path").id;

  router.get("/v1/incidents", canRead, async (req, res) => {
    const query = parseListQuery(incidentListQuerySchema, req.query, { status: INCIDENT_STATUSES, severity: INCIDENT_SEVERITIES });
    const page = await incidents.list({ statuses: query.status, severities: query.severity, limit: query.limit, before: query.cursor === undefined ? undefined : Number(query.cursor) });
    res.json({ items: page.items.map(listItemAnswer), next_cursor: page.nextCursor === null ? null : String(page.nextCursor) });
  });

  router.post("/v1/incidents", canWrite, async (req, res) => {
    const body = parseOr422(incidentCreateBodySchema, parseJson(await readBody(req, INCIDENT_BODY_LIMIT)), "body");
    const detail = await incidents.open(body, author(req));
    deps.logger.info({ incident: detail.incident.id, severity: detail.incident.severity, by: detail.incident.created_by }, "incident opened");
    res.status(201).location(`/v1/incidents/${detail.incident.id}`).json(incidentDetailAnswer(detail));
  });

  router.get("/v1/incidents/:id", canRead, async (req, res) => {
    res.json(incidentDetailAnswer(await incidents.get(idOf(req))));
  });

  router.patch("/v1/incidents/:id", canWrite, async (req, res) => {
    // The body first: its size and nesting limits hold on every route that takes one, whatever the path says.
    const json = parseJson(await readBody(req, INCIDENT_BODY_LIMIT));
    const id = idOf(req);
    const patch = parseOr422(incidentPatchBodySchema, json, "body");
    const updated = await incidents.update(id, patch, author(req));
    if (updated.changes.length) deps.logger.info({ incident: id, fields: updated.changes.map((c) => c.field), by: author(req) }, "incident changed");
    res.json({ ...incidentDetailAnswer(updated), changes: updated.changes });
  });

  router.post("/v1/incidents/:id/notes", canWrite, async (req, res) => {
    const json = parseJson(await readBody(req, SMALL_BODY_LIMIT));
    const id = idOf(req);
    const body = parseOr422(noteBodySchema, json, "body");
    const note = await incidents.addNote(id, body.body, author(req));
    res.status(201).json(timelineAnswer(note));
  });

  router.post("/v1/incidents/:id/links", canWrite, async (req, res) => {
    const json = parseJson(await readBody(req, SMALL_BODY_LIMIT));
    const id = idOf(req);
    const target = parseOr422(linkTargetBodySchema, json, "body");
    const { link, created } = await incidents.addLink(id, target, author(req));
    res.status(created ? 201 : 200).json({ created, link: linkAnswer(link) });
  });

  router.delete("/v1/incidents/:id/links", canWrite, async (req, res) => {
    const bytes = await readBody(req, SMALL_BODY_LIMIT);
    if (bytes.length === 0) throw badRequest("empty_body", 'Name the link to remove in the body: the target as it was linked, e.g. {"image_digest": "sha256:…"}, or {"link_id": 12}.');
    const json = parseJson(bytes);
    const id = idOf(req);
    const which = parseOr422(linkRemoveBodySchema, json, "body");
    const removed = await incidents.removeLink(id, which, author(req));
    res.json({ link: linkAnswer(removed) });
  });

  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  const params = z.object({ id: z.string().regex(/^[1-9]\d*$/).describe("Incident number") });
  registry.registerPath({
    method: "get",
    path: "/v1/incidents",
    tags: ["Incidents"],
    summary: "Incidents, newest first (cursor pagination)",
    ...authenticated("compliance:read"),
    request: { query: incidentListQuerySchema },
    responses: { 200: jsonResponse("A page of incidents", incidentListResponseSchema), ...problems(400, 401, 403, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/incidents",
    tags: ["Incidents"],
    summary: "Open an incident, optionally linked to the items it concerns",
    ...authenticated("policy:write"),
    request: { body: jsonBody(incidentCreateBodySchema) },
    responses: { 201: jsonResponse("The incident with its timeline and links", incidentDetailResponseSchema), ...problems(400, 401, 403, 413, 422, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/incidents/{id}",
    tags: ["Incidents"],
    summary: "An incident with its timeline and its linked items' current state",
    ...authenticated("compliance:read"),
    request: { params },
    responses: { 200: jsonResponse("The incident", incidentDetailResponseSchema), ...problems(400, 401, 403, 404, 503) },
  });
  registry.registerPath({
    method: "patch",
    path: "/v1/incidents/{id}",
    tags: ["Incidents"],
    summary: "Change fields; each change becomes a timeline entry",
    ...authenticated("policy:write"),
    request: { params, body: jsonBody(incidentPatchBodySchema) },
    responses: { 200: jsonResponse("The incident and the changes made", incidentPatchResponseSchema), ...problems(400, 401, 403, 404, 413, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/incidents/{id}/notes",
    tags: ["Incidents"],
    summary: "Add a Markdown note to the timeline",
    ...authenticated("policy:write"),
    request: { params, body: jsonBody(noteBodySchema) },
    responses: { 201: jsonResponse("The timeline entry", timelineEntrySchema), ...problems(400, 401, 403, 404, 413, 422, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/incidents/{id}/links",
    tags: ["Incidents"],
    summary: "Link a vulnerability, image, repository, workload, runtime violation or exception (200 when already linked)",
    ...authenticated("policy:write"),
    request: { params, body: jsonBody(linkTargetBodySchema) },
    responses: {
      201: jsonResponse("Linked", linkChangeResponseSchema),
      200: jsonResponse("Already linked: nothing changed", linkChangeResponseSchema),
      ...problems(400, 401, 403, 404, 409, 422, 503),
    },
  });
  registry.registerPath({
    method: "delete",
    path: "/v1/incidents/{id}/links",
    tags: ["Incidents"],
    summary: "Remove a link (the timeline keeps the change)",
    description: "The body names the link: the target as it was linked, or {link_id}.",
    ...authenticated("policy:write"),
    request: { params, body: jsonBody(linkRemoveBodySchema) },
    responses: { 200: jsonResponse("The removed link", linkChangeResponseSchema), ...problems(400, 401, 403, 404, 422, 503) },
  });
};
