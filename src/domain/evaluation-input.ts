import { z } from "zod";
import { isCountable, isFixable, type Finding } from "./report";
import { severitySchema, type FindingKind } from "./severity";

/**
 * The per-finding facts the evaluator needs, stored with each report as JSON so that re-evaluating every image
 * never has to read the findings table. Keys are short because there is one entry per finding of every report.
 */
const evaluationFindingSchema = z.object({
  k: z.enum(["v", "s", "m"]),
  id: z.string(),
  sev: severitySchema,
  fix: z.boolean(),
  st: z.string().nullable(),
});
export type EvaluationFinding = z.infer<typeof evaluationFindingSchema>;

export const evaluationInputSchema = z.array(evaluationFindingSchema);

const KIND_CODE: Record<FindingKind, EvaluationFinding["k"]> = { vulnerability: "v", secret: "s", misconfiguration: "m" };

/** Drops the findings no policy can ever count (not_affected, non-FAIL checks) to keep the stored form small. */
export function toEvaluationInput(findings: readonly Finding[]): EvaluationFinding[] {
  const out: EvaluationFinding[] = [];
  for (const f of findings) {
    if (!isCountable(f)) continue;
    out.push({ k: KIND_CODE[f.kind], id: f.vulnerabilityId, sev: f.severity, fix: isFixable(f), st: f.status });
  }
  return out;
}

/**
 * Reads the stored JSON back. Throws on a malformed value rather than evaluating an image as if it had no findings,
 * which would silently let it run.
 */
export function parseEvaluationInput(stored: unknown): EvaluationFinding[] {
  const value = typeof stored === "string" ? (JSON.parse(stored) as unknown) : stored;
  // Re-evaluating every image reads millions of these: check the common, well-formed case by hand (zod costs
  // several seconds per 100,000 images) and let the schema find and describe whatever is wrong.
  if (Array.isArray(value) && value.every(isWellFormedFinding)) return value as EvaluationFinding[];
  const parsed = evaluationInputSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`stored evaluation input is malformed at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "unknown"}`);
  }
  return parsed.data;
}

const KINDS: ReadonlySet<unknown> = new Set(["v", "s", "m"]);
const SEVERITY_NAMES: ReadonlySet<unknown> = new Set(severitySchema.options);

function isWellFormedFinding(f: unknown): boolean {
  if (typeof f !== "object" || f === null) return false;
  const o = f as Record<string, unknown>;
  return KINDS.has(o.k) && typeof o.id === "string" && SEVERITY_NAMES.has(o.sev) && typeof o.fix === "boolean" && (o.st === null || typeof o.st === "string");
}
