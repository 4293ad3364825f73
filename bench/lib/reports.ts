import crypto from "node:crypto";
import { readFixtureJson } from "../../test/support/fixtures";

type Json = Record<string, any>;

/** A digest derived from a label, so every generated report names its own image. */
export function digestOf(label: string): string {
  return "sha256:" + crypto.createHash("sha256").update(label).digest("hex");
}

/**
 * A Trivy JSON report with `findingCount` vulnerability findings, shaped like the juice-shop fixture (its OS and
 * Node.js results, its descriptions, CVSS blocks, layers and statuses). The fixture's findings are replicated in
 * order; every copy gets its own vulnerability IDs and package names (suffix `label`+copy), so a report's IDs are
 * as repetitive as juice-shop's own (141 IDs for 236 findings) but never shared with another label's report.
 * `idLabel` (default: `label`) names the IDs and packages alone: reports with one idLabel and different labels are
 * different images (digest, bytes) with the same vulnerability IDs and metadata, as a CI's daily rebuilds are.
 */
export function buildTrivyReport(findingCount: number, label: string, idLabel = label): { json: Json; digest: string; vulnerabilityIds: number } {
  const source = readFixtureJson("juice-shop-v10.2.0.json");
  const templates: Array<{ result: number; vuln: Json }> = [];
  (source.Results as Json[]).forEach((result, index) => {
    for (const vuln of (result.Vulnerabilities as Json[] | undefined) ?? []) templates.push({ result: index, vuln });
  });
  const results: Json[] = (source.Results as Json[]).map((r) => ({ ...r, Vulnerabilities: r.Vulnerabilities ? [] : undefined }));
  const ids = new Set<string>();
  for (let i = 0; i < findingCount; i++) {
    const copy = Math.floor(i / templates.length);
    const { result, vuln } = templates[i % templates.length]!;
    const suffix = `${idLabel}-${copy}`;
    const id = `${vuln.VulnerabilityID}-${suffix}`;
    ids.add(id);
    const pkg = `${vuln.PkgName}-${suffix}`;
    results[result]!.Vulnerabilities.push({
      ...vuln,
      VulnerabilityID: id,
      PkgName: pkg,
      PkgID: `${pkg}@${vuln.InstalledVersion}`,
      PkgIdentifier: vuln.PkgIdentifier ? { ...vuln.PkgIdentifier, PURL: String(vuln.PkgIdentifier.PURL ?? "").replace(vuln.PkgName, pkg) } : undefined,
    });
  }
  const digest = digestOf(`bench-${label}`);
  const json = {
    ...source,
    ArtifactName: `registry.example.com/bench/app-${label}:1.0`,
    Metadata: { ...source.Metadata, RepoTags: [`registry.example.com/bench/app-${label}:1.0`], RepoDigests: [`registry.example.com/bench/app-${label}@${digest}`] },
    Results: results,
  };
  return { json, digest, vulnerabilityIds: ids.size };
}

/** A report of at least `bytes` bytes once serialised (findings added until it is), for the memory scenario. */
export function buildReportOfSize(bytes: number, label: string): { body: Buffer; findings: number; digest: string } {
  const probe = Buffer.byteLength(JSON.stringify(buildTrivyReport(1000, label).json));
  let findings = Math.floor((bytes / probe) * 1000);
  for (;;) {
    const { json, digest } = buildTrivyReport(findings, label);
    const body = Buffer.from(JSON.stringify(json));
    if (body.length >= bytes * 0.98 && body.length <= bytes) return { body, findings, digest };
    findings = Math.floor(findings * (bytes * 0.99) / body.length);
  }
}
