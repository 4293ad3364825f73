/**
 * Small helpers shared by the format decoders. Nothing here knows a particular format.
 */
import type { z } from "zod";
import { invalid, fieldErrorsFromZod } from "../domain/errors";
import { parseImageReference } from "../domain/image-reference";
import type { VulnerabilityInfo } from "../domain/report";
import type { Severity } from "../domain/severity";

/**
 * Validates `json` against a format's schema. Shape errors become one 422 (`invalid_report`) whose `errors` carry
 * dotted paths into the uploaded document (e.g. `Results.0.Vulnerabilities.3.Severity`).
 */
export function parseShape<T extends z.ZodType>(
  schema: T,
  json: unknown,
  formatLabel: string,
  pathPrefix = "",
): z.output<T> {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const errors = fieldErrorsFromZod(parsed.error.issues, pathPrefix);
  const first = errors[0];
  const where = first ? ` (first at ${first.path || "the top level"}: ${first.message})` : "";
  throw invalid(
    "invalid_report",
    `The ${formatLabel} does not have the shape its producer writes${where}.`,
    errors,
  );
}

/** A JSON object (not null, not an array). */
export const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Empty strings mean "absent" in Go's JSON (omitempty, zero values): normalise them to null. */
export function nonEmpty(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

/**
 * Lenient date parsing: report timestamps are informational, so an unparseable value or Go's zero time
 * (`0001-01-01T00:00:00Z`) becomes null rather than refusing the whole report.
 */
export function parseDate(value: string | null | undefined): Date | null {
  const text = nonEmpty(value);
  if (text === null) return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1) return null;
  return date;
}

/** A finite, positive number or null (Go writes 0 for "no score"). */
export function positiveScore(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : null;
}

/**
 * CVSS-like score → severity, using the CVSS v3 qualitative bands (the same bands Trivy's SARIF writer
 * assumes when it turns a severity into `security-severity`): ≥9 CRITICAL, ≥7 HIGH, ≥4 MEDIUM, >0 LOW.
 */
export function severityFromScore(score: number | null): Severity {
  if (score === null || !Number.isFinite(score) || score <= 0) return "UNKNOWN";
  if (score >= 9) return "CRITICAL";
  if (score >= 7) return "HIGH";
  if (score >= 4) return "MEDIUM";
  return "LOW";
}

const ARCHIVE_OR_PATH = /(\.tar|\.tar\.gz|\.tgz|\.oci|\.docker)$|^[./~]|\\/i;

/**
 * An artifact name usable as a tag reference: it must parse as an image reference, carry no digest (a digest
 * reference is identity, not a tag), and not be a file path such as Trivy's `--input image.tar.gz`, which also
 * happens to satisfy the reference grammar.
 */
export function artifactNameAsTag(name: string | null | undefined): string | null {
  const text = nonEmpty(name);
  if (text === null || ARCHIVE_OR_PATH.test(text)) return null;
  const ref = parseImageReference(text);
  if (ref === null || ref.digest !== null) return null;
  return text;
}

/** Unique, non-empty strings in first-seen order. */
export function uniqueStrings(values: ReadonlyArray<string | null | undefined> | null | undefined): string[] {
  const seen = new Set<string>();
  for (const v of values ?? []) {
    const text = nonEmpty(v);
    if (text !== null) seen.add(text);
  }
  return [...seen];
}

/** A VulnerabilityInfo with nothing known but its ID. */
export function emptyInfo(id: string): VulnerabilityInfo {
  return {
    id,
    title: null,
    description: null,
    severity: null,
    cvssScore: null,
    publishedAt: null,
    lastModifiedAt: null,
    primaryUrl: null,
  };
}

/**
 * Collects VulnerabilityInfo once per ID. The first occurrence wins; later occurrences only fill fields the
 * first one lacked (e.g. a title missing from one result but present in another).
 */
export class VulnerabilityInfoCollector {
  private readonly byId = new Map<string, VulnerabilityInfo>();

  add(info: VulnerabilityInfo): void {
    const existing = this.byId.get(info.id);
    if (!existing) {
      this.byId.set(info.id, { ...info });
      return;
    }
    for (const key of Object.keys(info) as (keyof VulnerabilityInfo)[]) {
      if (existing[key] === null && info[key] !== null) (existing as unknown as Record<string, unknown>)[key] = info[key];
    }
  }

  list(): VulnerabilityInfo[] {
    return [...this.byId.values()];
  }
}
