/**
 * The dashboard's incident forms. Browsers post url-encoded fields; these functions turn them into the request
 * bodies of the incident API and validate them with the API's own schemas, so a change made on a page and one made
 * through /v1/incidents obey the same rules.
 */
import type { z } from "zod";
import { fieldErrorsFromZod } from "../domain/errors";
import type { IncidentFields, LinkTarget } from "../domain/incident";
import { incidentCreateBodySchema, incidentPatchBodySchema, linkTargetBodySchema, noteBodySchema } from "../http/incident-schemas";
import type { FormFields, Parsed } from "./forms";

const one = (v: unknown): string => (Array.isArray(v) ? String(v[0] ?? "") : typeof v === "string" ? v : "");

const WORKLOAD_FORMAT = { path: "link_value", message: "Write a workload as cluster/namespace/kind/name, e.g. prod/shop/Deployment/api." };

/** The item picker (type + one text field) → a link body; null when nothing was entered, an error for a bad workload. */
function linkBody(body: FormFields): Record<string, unknown> | null | { error: { path: string; message: string } } {
  const type = one(body.link_type) || "vulnerability_id";
  const value = one(body.link_value).trim();
  if (value === "") return null;
  if (type === "workload") {
    const parts = value.split("/");
    if (parts.length !== 4) return { error: WORKLOAD_FORMAT };
    const [cluster, namespace, kind, name] = parts;
    return { workload: { cluster, namespace, kind, name } };
  }
  return { [type]: value };
}

function parse<S extends z.ZodType>(schema: S, value: unknown): Parsed<z.infer<S>> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, value: result.data } : { ok: false, errors: fieldErrorsFromZod(result.error.issues) };
}

export function parseOpenIncidentForm(body: FormFields): Parsed<z.infer<typeof incidentCreateBodySchema>> {
  const link = linkBody(body);
  if (link && "error" in link) return { ok: false, errors: [link.error as { path: string; message: string }] };
  const parsed = parse(incidentCreateBodySchema, {
    title: one(body.title),
    severity: one(body.severity),
    owner: one(body.owner),
    summary: one(body.summary),
    ...(link ? { links: [link] } : {}),
  });
  if (parsed.ok) return parsed;
  return { ok: false, errors: parsed.errors.map((e) => ({ ...e, path: e.path.replace(/^links\.0\.?/, "link ").trim() })) };
}

/** The update form posts every field; only those that differ from the incident become changes. */
export function parseIncidentUpdateForm(body: FormFields): Parsed<Partial<IncidentFields>> {
  return parse(incidentPatchBodySchema, {
    title: one(body.title),
    status: one(body.status),
    severity: one(body.severity),
    owner: one(body.owner),
    summary: one(body.summary),
    root_cause: one(body.root_cause),
    remediation: one(body.remediation),
  });
}

export function parseNoteForm(body: FormFields): Parsed<string> {
  const parsed = parse(noteBodySchema, { body: one(body.body) });
  return parsed.ok ? { ok: true, value: parsed.value.body } : parsed;
}

export function parseLinkForm(body: FormFields): Parsed<LinkTarget> {
  const link = linkBody(body);
  if (!link) return { ok: false, errors: [{ path: "link_value", message: "Enter the item to link." }] };
  if ("error" in link) return { ok: false, errors: [link.error as { path: string; message: string }] };
  return parse(linkTargetBodySchema, link);
}
