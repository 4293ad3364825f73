/**
 * Trivy's own rules for `--ignorefile .trivyignore.yaml` and `--vex <openvex.json>`, applied to a stored Trivy JSON
 * report, written from Trivy's source (independently of src/domain/vex.ts) so a test can compare what CI's Trivy would
 * count with what the registry counts:
 *
 * - pkg/result/ignore.go: an entry applies when its `id` equals the finding's ID (vulnerabilities: VulnerabilityID;
 *   secrets: RuleID; misconfigurations: ID or AVDID), its `paths` (none = all) and `purls` (none = all) match, and it
 *   is not pruned: entries whose `expired_at` is before now are dropped. `expired_at` is decoded by yaml.v3 into a
 *   time.Time, which needs an unquoted YAML timestamp.
 * - pkg/vex/vex.go + openvex.go + go-vex: a vulnerability is filtered when the latest (by timestamp, statements without
 *   one take the document's) statement matching its ID (name, @id or aliases) and a product is `not_affected` or
 *   `fixed`. Products are matched against the vulnerable package itself and up the SBOM to the root, the image, whose
 *   purl Trivy builds from Metadata.RepoDigests[0] (pkg/purl/purl.go parseOCI): pkg:oci/<last path segment>@<digest>
 *   ?repository_url=<go-containerregistry repository name>&arch=<architecture>; no RepoDigests, no root purl.
 *   This helper checks the package and the root (the products the registry writes are images); components between
 *   (an OS, a lock file) are not modelled.
 */
import { parseDocument, isMap, isScalar, isSeq, Scalar } from "yaml";

type Json = Record<string, any>;

export interface RemainingCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
  secrets: number;
  misconfigurations: number;
}

interface IgnoreEntry {
  id: string;
  expiredAt: Date | null;
}

export interface IgnoreConfig {
  vulnerabilities: IgnoreEntry[];
  misconfigurations: IgnoreEntry[];
  secrets: IgnoreEntry[];
}

// yaml.v3's timestamp layouts (decode.go allowedTimestampFormats), as regular expressions.
const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

function goTime(text: string): Date {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new Error(`yaml.v3 cannot decode ${JSON.stringify(text)} into time.Time`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = m;
  const pad = (v: string) => v.padStart(2, "0");
  return new Date(`${y}-${pad(mo!)}-${pad(d!)}T${pad(h)}:${pad(mi)}:${pad(s)}${frac}${zone}`);
}

/** Parses a .trivyignore.yaml as Trivy does (the fields the registry writes; paths and purls are refused here). */
export function parseTrivyIgnoreYaml(text: string): IgnoreConfig {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
  const config: IgnoreConfig = { vulnerabilities: [], misconfigurations: [], secrets: [] };
  const root = doc.contents;
  if (root === null || (isMap(root) && root.items.length === 0)) return config;
  if (!isMap(root)) throw new Error("the ignore file is not a mapping");
  for (const pair of root.items) {
    const section = String((pair.key as Scalar).value) as keyof IgnoreConfig | "licenses";
    if (section === "licenses") continue;
    if (!(section in config)) continue; // yaml.v3 ignores unknown fields
    if (!isSeq(pair.value)) throw new Error(`${section} is not a list`);
    for (const item of pair.value.items) {
      if (!isMap(item)) throw new Error(`${section}: an entry is not a mapping`);
      let id = "";
      let expiredAt: Date | null = null;
      for (const field of item.items) {
        const key = String((field.key as Scalar).value);
        const value = field.value;
        if (key === "id") id = String((value as Scalar).value);
        else if (key === "expired_at") {
          if (!isScalar(value) || value.type !== Scalar.PLAIN) throw new Error("expired_at must be an unquoted timestamp for yaml.v3 to decode it into time.Time");
          expiredAt = goTime(String(value.source ?? value.value));
        } else if (key === "paths" || key === "purls") throw new Error(`this helper does not implement ${key}`);
      }
      config[section].push({ id, expiredAt });
    }
  }
  return config;
}

/** Trivy's Prune: drops the entries whose expired_at is before now. */
function inForce(entries: readonly IgnoreEntry[], now: Date): IgnoreEntry[] {
  return entries.filter((e) => e.expiredAt === null || !(e.expiredAt.getTime() < now.getTime()));
}

interface Purl {
  type: string;
  namespace: string;
  name: string;
  version: string;
  qualifiers: Record<string, string>;
}

/** packageurl-go FromString, enough for pkg:oci and the package purls in Trivy reports. */
function parsePurl(text: string): Purl | null {
  const m = /^pkg:([^/]+)\/([^?#]*?)(?:@([^?#]*))?(?:\?([^#]*))?(?:#.*)?$/.exec(text);
  if (!m) return null;
  const segments = m[2]!.split("/").map(decodeURIComponent);
  const name = segments.pop()!;
  const qualifiers: Record<string, string> = {};
  for (const pair of (m[4] ?? "").split("&").filter(Boolean)) {
    const [k, v = ""] = pair.split("=");
    if (v !== "") qualifiers[k!.toLowerCase()] = decodeURIComponent(v);
  }
  return { type: m[1]!.toLowerCase(), namespace: segments.join("/"), name, version: decodeURIComponent(m[3] ?? ""), qualifiers };
}

/** go-vex PurlMatches(general, specific). */
function purlMatches(general: string, specific: string): boolean {
  const a = parsePurl(general);
  const b = parsePurl(specific);
  if (!a || !b) return false;
  if (a.type !== b.type || a.namespace !== b.namespace || a.name !== b.name) return false;
  if (a.version !== "" && a.version !== b.version) return false;
  return Object.entries(a.qualifiers).every(([k, v]) => b.qualifiers[k] === v);
}

/** go-vex Component.Matches. */
function componentMatches(c: Json, identifier: string): boolean {
  const id = c["@id"] ?? "";
  if (id !== "" && id === identifier) return true;
  if (typeof id === "string" && id.startsWith("pkg:") && purlMatches(id, identifier)) return true;
  for (const [type, value] of Object.entries((c.identifiers as Record<string, string>) ?? {})) {
    if (value === identifier) return true;
    if (type === "purl" && identifier.startsWith("pkg:") && purlMatches(value, identifier)) return true;
  }
  return Object.values((c.hashes as Record<string, string>) ?? {}).includes(identifier);
}

/** go-vex Product.Matches. */
function productMatches(p: Json, identifier: string, sub: string): boolean {
  if (!componentMatches(p, identifier)) return false;
  const subs = (p.subcomponents as Json[]) ?? [];
  return subs.length === 0 || sub === "" || subs.some((s) => componentMatches(s, sub));
}

/** The purl Trivy gives the scanned image (pkg/purl/purl.go parseOCI), or null without RepoDigests. */
export function trivyImagePurl(report: Json): string | null {
  const repoDigest = (report.Metadata?.RepoDigests as string[] | undefined)?.[0];
  if (!repoDigest) return null;
  const [repo, digest] = repoDigest.split("@") as [string, string];
  const parts = repo.split("/");
  let registry = "index.docker.io";
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost")) registry = parts.shift()!;
  if (registry === "docker.io") registry = "index.docker.io";
  if (registry === "index.docker.io" && parts.length === 1) parts.unshift("library");
  const qualifiers = [`repository_url=${encodeURIComponent(`${registry}/${parts.join("/")}`)}`];
  const arch = report.Metadata?.ImageConfig?.architecture;
  if (arch) qualifiers.unshift(`arch=${encodeURIComponent(arch)}`);
  return `pkg:oci/${parts[parts.length - 1]!.toLowerCase()}@${encodeURIComponent(digest)}?${qualifiers.join("&")}`;
}

function vexFilters(vex: Json, vuln: Json, imagePurl: string | null): boolean {
  const docTime = vex.timestamp ? Date.parse(vex.timestamp) : 0;
  const pkgPurl: string = vuln.PkgIdentifier?.PURL ?? "";
  const candidates: Array<[string, string]> = [];
  if (pkgPurl) candidates.push([pkgPurl, ""], [pkgPurl, pkgPurl]);
  if (imagePurl) candidates.push([imagePurl, pkgPurl]);
  for (const [product, sub] of candidates) {
    const matching = ((vex.statements as Json[]) ?? [])
      .filter((s) => {
        const v = s.vulnerability ?? {};
        const id = vuln.VulnerabilityID;
        if (!(v["@id"] === id || v.name === id || ((v.aliases as string[]) ?? []).includes(id))) return false;
        return ((s.products as Json[]) ?? []).some((p) => productMatches(p, product, sub));
      })
      .map((s, i) => ({ s, t: s.timestamp ? Date.parse(s.timestamp) : docTime, i }))
      .sort((a, b) => a.t - b.t || a.i - b.i);
    const latest = matching[matching.length - 1]?.s;
    if (latest && (latest.status === "not_affected" || latest.status === "fixed")) return true;
  }
  return false;
}

/** What Trivy would still report after the ignore file and/or the VEX document, counted as the registry counts. */
export function trivyRemaining(report: Json, options: { ignore?: IgnoreConfig; vex?: Json; now: Date }): RemainingCounts {
  const c: RemainingCounts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, secrets: 0, misconfigurations: 0 };
  const ignore = options.ignore;
  const vulnIgnores = new Set(inForce(ignore?.vulnerabilities ?? [], options.now).map((e) => e.id));
  const secretIgnores = new Set(inForce(ignore?.secrets ?? [], options.now).map((e) => e.id));
  const misconfIgnores = new Set(inForce(ignore?.misconfigurations ?? [], options.now).map((e) => e.id));
  const imagePurl = trivyImagePurl(report);
  for (const result of (report.Results as Json[] | null) ?? []) {
    for (const v of (result.Vulnerabilities as Json[] | null) ?? []) {
      if (v.Status === "not_affected") continue;
      if (vulnIgnores.has(v.VulnerabilityID)) continue;
      if (options.vex && vexFilters(options.vex, v, imagePurl)) continue;
      const sev = String(v.Severity).toLowerCase();
      if (sev === "critical" || sev === "high" || sev === "medium" || sev === "low") c[sev]++;
      else c.unknown++;
    }
    for (const s of (result.Secrets as Json[] | null) ?? []) if (!secretIgnores.has(s.RuleID)) c.secrets++;
    for (const m of (result.Misconfigurations as Json[] | null) ?? [])
      if (m.Status === "FAIL" && !misconfIgnores.has(m.ID) && !misconfIgnores.has(m.AVDID)) c.misconfigurations++;
  }
  return c;
}

/** The registry's counts under its exceptions, from a verdict whose policy counts every severity with limit 0. */
export function registryCounts(reasons: ReadonlyArray<Json>): RemainingCounts {
  const c: RemainingCounts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, secrets: 0, misconfigurations: 0 };
  for (const r of reasons) {
    if (r.code === "severity_threshold") c[String(r.severity).toLowerCase() as "critical"] += r.count;
    else if (r.code === "secret_found") c.secrets += r.count;
    else if (r.code === "misconfiguration") c.misconfigurations += r.count;
  }
  return c;
}
