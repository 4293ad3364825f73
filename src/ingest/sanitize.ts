import type { DecodedReport } from "../domain/report";

// PostgreSQL text and jsonb cannot hold U+0000; a report carrying one (hostile or a binary secret match) would
// otherwise fail the whole upload with a database error.
const NUL = /\u0000/g;

function clean<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\u0000") ? value.replace(NUL, "\uFFFD") : value) as T;
  return value;
}

function cleanObject<T extends object>(o: T): T {
  let copy: T | null = null;
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === "string" && v.includes("\u0000")) {
      copy ??= { ...o };
      (copy as Record<string, unknown>)[k] = clean(v);
    }
  }
  return copy ?? o;
}

/** Replaces NUL characters in every stored string with U+FFFD, copying only what changes. */
export function sanitizeReport(report: DecodedReport): DecodedReport {
  return {
    ...cleanObject(report),
    repoDigests: report.repoDigests.map(clean),
    repoTags: report.repoTags.map(clean),
    findings: report.findings.map(cleanObject),
    vulnerabilities: report.vulnerabilities.map(cleanObject),
  };
}
