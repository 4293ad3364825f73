import { z } from "zod";
import { fieldErrorsFromZod, type FieldError } from "../domain/errors";
import type { VexJustification } from "../domain/exception";
import { isDigest } from "../domain/image-reference";
import { policyRulesSchema, type PolicyRules } from "../domain/policy";
import { SEVERITIES } from "../domain/severity";
import { exceptionCreateBodySchema } from "../http/policy-schemas";

/**
 * The dashboard's form boundary. Browsers post application/x-www-form-urlencoded fields; these schemas turn them
 * into the same request bodies the API takes and validate those with the API's own schemas, so a grant from the
 * dashboard and a POST /v1/exceptions obey identical rules.
 */

export type FormFields = Record<string, string | string[] | undefined>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const one = (v: unknown): string => (Array.isArray(v) ? String(v[0] ?? "") : typeof v === "string" ? v : "");
const many = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === "string" && v !== "" ? [v] : []);

export const loginFormSchema = z.object({
  token: z.string().trim().min(1, "Enter an API token.").max(256),
  next: z.string().optional(),
});

/** Only a path inside the dashboard may be a redirect target after sign-in (no open redirect). */
export function safeNext(next: unknown): string {
  const value = one(next);
  return /^\/ui(\/[^\\]*)?$/.test(value) && !value.startsWith("//") ? value : "/ui/";
}

const expiryDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "Choose an expiry date: an exception granted here must end.")
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), "Not a valid date.");

const grantFormSchema = z.object({
  vulnerability_id: z.array(z.string()).min(1, "Choose at least one vulnerability ID.").max(100),
  scope: z.enum(["image", "repository", "glob", "everywhere"], { message: "Choose where the exception applies." }),
  image_digest: z.string().optional(),
  repository: z.string().optional(),
  reason: z.string().trim().min(1, "Say why the risk is accepted.").max(2000),
  expires_on: expiryDateSchema,
  justification: z.string().optional(),
});

export interface ExceptionGrant {
  vulnerabilityId: string;
  repository: string | null;
  imageDigest: string | null;
  reason: string;
  justification: VexJustification | null;
  /** End of the chosen day, UTC: "expires on 2026-12-31" is in force through that whole day. */
  expiresAt: Date;
}

/** A grant form (image or vulnerability page) → one validated exception per chosen vulnerability ID. */
export function parseGrantForm(body: FormFields): Parsed<ExceptionGrant[]> {
  const extra = one(body.other_vulnerability_id).split(/[\s,]+/).filter(Boolean);
  const form = grantFormSchema.safeParse({
    vulnerability_id: [...many(body.vulnerability_id), ...extra],
    scope: one(body.scope),
    image_digest: one(body.image_digest) || undefined,
    repository: one(body.repository) || undefined,
    reason: one(body.reason),
    expires_on: one(body.expires_on),
    justification: one(body.justification) || undefined,
  });
  if (!form.success) return { ok: false, errors: fieldErrorsFromZod(form.error.issues) };
  const f = form.data;
  const errors: FieldError[] = [];
  if (f.scope === "image" && !(f.image_digest && isDigest(f.image_digest))) errors.push({ path: "image_digest", message: "This image's digest is missing." });
  if ((f.scope === "repository" || f.scope === "glob") && !f.repository) errors.push({ path: "repository", message: "Name the repository or glob the exception applies to." });
  if (errors.length) return { ok: false, errors };
  const expiresAt = new Date(Date.parse(`${f.expires_on}T00:00:00Z`) + 86_400_000);
  const grants: ExceptionGrant[] = [];
  for (const id of [...new Set(f.vulnerability_id)]) {
    const body = exceptionCreateBodySchema.safeParse({
      vulnerability_id: id,
      repository: f.scope === "repository" || f.scope === "glob" ? f.repository : null,
      image_digest: f.scope === "image" ? f.image_digest : null,
      reason: f.reason,
      expires_at: expiresAt.toISOString(),
      justification: f.justification ?? null,
    });
    if (!body.success) {
      errors.push(...fieldErrorsFromZod(body.error.issues).map((e) => ({ path: e.path, message: `${id}: ${e.message}` })));
      continue;
    }
    grants.push({
      vulnerabilityId: body.data.vulnerability_id,
      repository: body.data.repository ?? null,
      imageDigest: body.data.image_digest ?? null,
      reason: body.data.reason,
      justification: body.data.justification ?? null,
      expiresAt,
    });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: grants };
}

/**
 * The policy form → PolicyRules. A blank severity limit means "no limit" (absent from max_severity_counts), a blank
 * maximum age means none; unchecked boxes are false. Then the domain's own policy schema validates the whole.
 */
export function parsePolicyForm(body: FormFields): Parsed<PolicyRules> {
  const errors: FieldError[] = [];
  const counts: Record<string, number> = {};
  for (const s of SEVERITIES) {
    const raw = one(body[`max_${s}`]).trim();
    if (raw === "") continue;
    if (!/^\d+$/.test(raw)) errors.push({ path: `max_severity_counts.${s}`, message: "must be a whole number of 0 or more, or blank for no limit" });
    else counts[s] = Number(raw);
  }
  const age = one(body.max_scan_age_days).trim();
  if (age !== "" && !/^\d+$/.test(age)) errors.push({ path: "max_scan_age_days", message: "must be a whole number of days, or blank for no limit" });
  if (errors.length) return { ok: false, errors };
  const candidate = {
    max_severity_counts: counts,
    ignore_unfixed: one(body.ignore_unfixed) === "on",
    block_secrets: one(body.block_secrets) === "on",
    block_misconfiguration_severities: many(body.block_misconfiguration_severities),
    max_scan_age_days: age === "" ? null : Number(age),
    unscanned: one(body.unscanned),
  };
  const parsed = policyRulesSchema.safeParse(candidate);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, errors: fieldErrorsFromZod(parsed.error.issues) };
}
