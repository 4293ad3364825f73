/**
 * Counts computed straight from a raw Trivy JSON report, independently of the decoders, so tests compare the
 * service's answer with the report's own content rather than with hand-typed constants.
 */
export interface RawCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
  fixable: number;
  secrets: number;
  misconfigurations: number;
}

type Json = Record<string, unknown>;

export function countTrivyJson(report: Json): RawCounts {
  const c: RawCounts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, secrets: 0, misconfigurations: 0 };
  for (const result of (report.Results as Json[] | null) ?? []) {
    // What an ignore file or VEX took out (`--show-suppressed`) counts too, unless VEX says not_affected.
    const modified = ((result.ExperimentalModifiedFindings as Json[] | null) ?? []).filter((m) => m.Status !== "not_affected");
    const of = (type: string) => modified.filter((m) => m.Type === type).map((m) => m.Finding as Json);
    for (const v of [...((result.Vulnerabilities as Json[] | null) ?? []), ...of("vulnerability")]) {
      if (v.Status === "not_affected") continue;
      const sev = String(v.Severity).toLowerCase() as keyof RawCounts;
      if (sev in c && sev !== "fixable" && sev !== "secrets" && sev !== "misconfigurations") c[sev]++;
      else c.unknown++;
      if (typeof v.FixedVersion === "string" && v.FixedVersion !== "") c.fixable++;
    }
    c.secrets += ((result.Secrets as Json[] | null) ?? []).length + of("secret").length;
    c.misconfigurations += [...((result.Misconfigurations as Json[] | null) ?? []), ...of("misconfiguration")].filter((m) => m.Status === "FAIL").length;
  }
  return c;
}

export const TRIVY_JSON_FIXTURES = [
  "alpine-310.json.golden",
  "centos-7.json.golden",
  "debian-stretch.json.golden",
  "fluentd-gems.json.golden",
  "sl-micro-rancher5.4.json.golden",
  "ubuntu-1804.json.golden",
  "juice-shop-v10.2.0.json",
  "misconfigurations_and_secrets.json",
] as const;

export function fakeDigest(seed: string | number): string {
  return `sha256:${require("node:crypto").createHash("sha256").update(String(seed)).digest("hex")}`;
}
