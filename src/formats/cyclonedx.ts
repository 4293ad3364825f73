/**
 * Trivy's CycloneDX with vulnerabilities (JSON, specVersion 1.4–1.7), as written by Trivy's
 * pkg/sbom/cyclonedx marshaller: the image in metadata.component (with `aquasecurity:trivy:*` properties),
 * packages in components[] keyed by bom-ref, and vulnerabilities[] whose affects[].ref point at packages.
 *
 * One finding per vulnerability per affects[].ref (Trivy merges every package a CVE hits into one entry). A
 * vulnerability-only BOM (no components; refs are BOM-Links to another BOM's purls) gets its packages from the purls.
 *
 * Severity of a vulnerability (Trivy's own choice, pkg/vulnerability getVendorSeverity, replayed on the ratings):
 *   1. the rating whose source.name equals the vulnerability's source.name (the advisory's data source); when the
 *      vulnerability names no source (older Trivy), the advisory source of the affected OS package's distribution
 *      (OS_ADVISORY_SOURCE: a CentOS package's severity is Red Hat's, as Trivy's JSON of the same scan says);
 *   2. for GHSA-… IDs, the "ghsa" rating; then the "nvd" rating (Trivy's fallback when the data source has none);
 *   3. else the highest severity among all ratings; 4. else UNKNOWN.
 *   Within one source, a CVSSv2 rating is used only if it is the source's only rating: Trivy recomputes NVD's v2
 *   severity from the v2 score, while its other ratings carry the vendor's severity. CycloneDX "info" → LOW.
 * Fixed version: Trivy writes `recommendation` as "Upgrade <pkg> to version <A, B>" (clauses joined by "; " when a
 * CVE hits several packages). The clause naming the affected package gives the fixed versions, kept as the
 * comma-separated list Trivy JSON's FixedVersion holds; with a single clause it applies to every affected package.
 * Status: only a VEX analysis or an "unaffected" version status says anything → "not_affected"; otherwise null.
 *
 * A BOM without vulnerabilities is an SBOM, not a scan: refused (see refuseSbom).
 */
import { z } from "zod";
import { unsupported } from "../domain/errors";
import { parsePurl } from "../domain/vex";
import type { DecodedReport, Finding } from "../domain/report";
import { SEVERITIES, normalizeSeverity, type Severity } from "../domain/severity";
import { VulnerabilityInfoCollector, artifactNameAsTag, nonEmpty, parseDate, parseShape, positiveScore } from "./shared";

const optString = z.string().nullish();
const propertiesSchema = z.array(z.object({ name: z.string(), value: optString })).nullish();

type Component = {
  "bom-ref"?: string | null;
  type?: string | null;
  name?: string | null;
  group?: string | null;
  version?: string | null;
  purl?: string | null;
  properties?: { name: string; value?: string | null }[] | null;
  components?: Component[] | null;
};
const componentSchema: z.ZodType<Component> = z.lazy(() =>
  z.object({
    "bom-ref": optString,
    type: optString,
    name: optString,
    group: optString,
    version: optString,
    purl: optString,
    properties: propertiesSchema,
    components: z.array(componentSchema).nullish(),
  }),
);

const toolSchema = z.object({ vendor: optString, group: optString, name: optString, version: optString });

const ratingSchema = z.object({
  source: z.object({ name: optString }).nullish(),
  score: z.number().nullish(),
  severity: optString,
  method: optString,
});

const vulnerabilitySchema = z.object({
  id: z.string().min(1),
  source: z.object({ name: optString }).nullish(),
  ratings: z.array(ratingSchema).nullish(),
  description: optString,
  recommendation: optString,
  advisories: z.array(z.object({ url: optString })).nullish(),
  published: optString,
  updated: optString,
  analysis: z.object({ state: optString }).nullish(),
  affects: z
    .array(z.object({ ref: z.string(), versions: z.array(z.object({ version: optString, status: optString })).nullish() }))
    .nullish(),
});

export const cycloneDxSchema = z.object({
  bomFormat: z.literal("CycloneDX"),
  specVersion: optString,
  metadata: z
    .object({
      timestamp: optString,
      // CycloneDX ≥ 1.5 writes {components: [...]}; 1.4 and older Trivy write a plain tools array.
      tools: z.union([z.array(toolSchema), z.object({ components: z.array(toolSchema).nullish() })]).nullish(),
      component: componentSchema.nullish(),
    })
    .nullish(),
  components: z.array(componentSchema).nullish(),
  dependencies: z.array(z.object({ ref: z.string(), dependsOn: z.array(z.string()).nullish() })).nullish(),
  vulnerabilities: z.array(vulnerabilitySchema).nullish(),
});

type Vulnerability = z.output<typeof vulnerabilitySchema>;
type Rating = z.output<typeof ratingSchema>;

const TRIVY = "aquasecurity:trivy:";
const prop = (c: Component | undefined, key: string) => nonEmpty(c?.properties?.find((p) => p.name === TRIVY + key)?.value);
const props = (c: Component | undefined, key: string) =>
  (c?.properties ?? []).filter((p) => p.name === TRIVY + key).map((p) => nonEmpty(p.value)).filter((v): v is string => !!v);

const rank = (s: Severity) => SEVERITIES.length - SEVERITIES.indexOf(s); // CRITICAL highest
const cdxSeverity = (s: string | null | undefined): Severity => (s?.toLowerCase() === "info" ? "LOW" : normalizeSeverity(s));

function severityFromSource(ratings: Rating[], source: string): Severity | null {
  const own = ratings.filter((r) => r.source?.name?.toLowerCase() === source.toLowerCase());
  const preferred = own.filter((r) => r.method !== "CVSSv2");
  const rating = (preferred.length > 0 ? preferred : own)[0];
  return rating ? cdxSeverity(rating.severity) : null;
}

/**
 * The advisory source Trivy takes an OS package's severity from (trivy-db's source IDs), by the distribution its purl
 * names: what an older Trivy's vulnerability-only BOM leaves out as the vulnerability's `source` (CentOS packages are
 * judged by Red Hat's data). Used only when the vulnerability names no source.
 */
const OS_ADVISORY_SOURCE: Record<string, string> = {
  centos: "redhat",
  redhat: "redhat",
  rhel: "redhat",
  alma: "alma",
  almalinux: "alma",
  rocky: "rocky",
  amazon: "amazon",
  amzn: "amazon",
  oracle: "oracle-oval",
  ol: "oracle-oval",
  opensuse: "suse-cvrf",
  "opensuse-leap": "suse-cvrf",
  sles: "suse-cvrf",
  suse: "suse-cvrf",
  photon: "photon",
  debian: "debian",
  ubuntu: "ubuntu",
  alpine: "alpine",
  wolfi: "wolfi",
  chainguard: "chainguard",
  mariner: "cbl-mariner",
  "cbl-mariner": "cbl-mariner",
  azurelinux: "azure",
};
const OS_PURL_TYPES = new Set(["apk", "deb", "rpm", "alpm"]);

/** The advisory source of the first affected OS package whose purl names a known distribution. */
function osAdvisorySource(packages: ReadonlyArray<Component | undefined>): string | null {
  for (const pkg of packages) {
    const purl = pkg?.purl ? parsePurl(pkg.purl) : null;
    if (purl && OS_PURL_TYPES.has(purl.type)) {
      const source = OS_ADVISORY_SOURCE[purl.namespace.toLowerCase()];
      if (source) return source;
    }
  }
  return null;
}

function chooseSeverity(v: Vulnerability, osSource: string | null): Severity {
  const ratings = v.ratings ?? [];
  const sources = [nonEmpty(v.source?.name) ?? osSource, v.id.startsWith("GHSA-") ? "ghsa" : null, "nvd"];
  for (const source of sources) {
    const sev = source ? severityFromSource(ratings, source) : null;
    if (sev) return sev;
  }
  const all = ratings.map((r) => cdxSeverity(r.severity)).filter((s) => s !== "UNKNOWN");
  return all.sort((a, b) => rank(b) - rank(a))[0] ?? "UNKNOWN";
}

function bestScore(ratings: Rating[]): number | null {
  for (const methods of [["CVSSv3", "CVSSv31"], ["CVSSv4"], ["CVSSv2"]]) {
    const scores = ratings.filter((r) => methods.includes(r.method ?? "")).map((r) => positiveScore(r.score) ?? 0);
    if (scores.some((s) => s > 0)) return Math.max(...scores);
  }
  return null;
}

/** "Upgrade a to version 1.2; Upgrade b to version 3.4, 3.5" → Map{a → "1.2", b → "3.4, 3.5"}. */
function parseRecommendation(text: string | null | undefined): Map<string, string> {
  const fixes = new Map<string, string>();
  for (const clause of (text ?? "").split(/;\s*/)) {
    const m = /^\s*Upgrade (.+?) to version (.+?)\s*$/.exec(clause);
    if (m) fixes.set(m[1]!, m[2]!);
  }
  return fixes;
}

/** The recommendation clause naming this package, else the only clause there is, else none. */
function fixedVersionFor(fixes: Map<string, string>, pkgName: string | null, pkg: Component | undefined): string | null {
  const named = (pkgName && fixes.get(pkgName)) || (pkg?.name && fixes.get(pkg.name));
  if (named) return named;
  return fixes.size === 1 ? [...fixes.values()][0]! : null;
}

/** Trivy's package name: maven's group joins with ":" (group:artifact), others (npm scopes, Go paths) with "/". */
function packageName(c: Component | undefined): string | null {
  const name = nonEmpty(c?.name);
  const group = nonEmpty(c?.group);
  if (!name || !group) return name;
  return `${group}${c?.purl?.startsWith("pkg:maven/") ? ":" : "/"}${name}`;
}

/**
 * The package an affects[].ref names when the BOM has no component by that bom-ref: a vulnerability-only BOM (an
 * older Trivy's `--format cyclonedx` of an SBOM) refers to the SBOM's packages by BOM-Link
 * (`urn:cdx:<serial>/<version>#<bom-ref>`), and Trivy's bom-refs are purls. Read as Trivy reads a purl: maven joins
 * group and artifact with ":", npm, Go, composer and the like keep their namespace with "/"; an OS package's
 * namespace is its distribution, not part of its name, its `epoch` qualifier prefixes the version ("1:1.0.2k-16.el7")
 * and its `distro` qualifier ("centos-7.6.1810") is the operating system its finding's target and type name.
 */
function componentFromPurl(ref: string): { pkg: Component; os: Component | undefined } | undefined {
  const bomRef = linkedBomRef(ref);
  const purl = parsePurl(bomRef);
  if (!purl) return undefined;
  // As a component: packageName joins group and name the way Trivy does.
  if (!OS_PURL_TYPES.has(purl.type)) return { pkg: { name: purl.name, group: nonEmpty(purl.namespace), version: nonEmpty(purl.version), purl: bomRef }, os: undefined };
  const epoch = purl.qualifiers.get("epoch");
  const version = nonEmpty(purl.version) && epoch && epoch !== "0" ? `${epoch}:${purl.version}` : nonEmpty(purl.version);
  const distro = purl.qualifiers.get("distro");
  const dash = distro ? distro.indexOf("-") : -1;
  const family = nonEmpty(dash > 0 ? distro!.slice(0, dash) : purl.namespace);
  const os: Component | undefined = family
    ? {
        type: "operating-system",
        name: family,
        version: dash > 0 ? distro!.slice(dash + 1) : null,
        properties: [
          { name: `${TRIVY}Class`, value: "os-pkgs" },
          { name: `${TRIVY}Type`, value: family },
        ],
      }
    : undefined;
  return { pkg: { name: purl.name, version, purl: bomRef }, os };
}

/** The bom-ref a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) points at; any other ref as it is. */
function linkedBomRef(ref: string): string {
  return ref.startsWith("urn:cdx:") && ref.includes("#") ? ref.slice(ref.indexOf("#") + 1) : ref;
}

const NOT_AFFECTED_STATES = new Set(["not_affected", "false_positive", "resolved", "resolved_with_pedigree"]);

export function decodeCycloneDxReport(json: unknown): DecodedReport {
  const bom = parseShape(cycloneDxSchema, json, "CycloneDX BOM");
  if (!bom.vulnerabilities || bom.vulnerabilities.length === 0) refuseSbom(bom.vulnerabilities);

  const byRef = new Map<string, Component>();
  const walk = (list: Component[] | null | undefined) => {
    for (const c of list ?? []) {
      const ref = nonEmpty(c["bom-ref"]);
      if (ref) byRef.set(ref, c);
      walk(c.components);
    }
  };
  walk(bom.components);
  const parentOf = new Map<string, Component>();
  for (const dep of bom.dependencies ?? []) {
    const parent = byRef.get(dep.ref);
    if (parent && prop(parent, "Class")) for (const child of dep.dependsOn ?? []) parentOf.set(child, parent);
  }
  const lookup = (ref: string) => byRef.get(ref) ?? byRef.get(linkedBomRef(ref));

  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();
  // The operating system a vulnerability-only BOM's purls name, for a BOM without an operating-system component.
  let purlOs: Component | undefined;
  for (const v of bom.vulnerabilities) {
    const fixes = parseRecommendation(v.recommendation);
    const vexStatus = NOT_AFFECTED_STATES.has(v.analysis?.state ?? "") ? "not_affected" : null;
    const affects = (v.affects && v.affects.length > 0 ? v.affects : [{ ref: "", versions: null }]).map((affected) => {
      const component = affected.ref ? lookup(affected.ref) : undefined;
      const fromPurl = affected.ref && !component ? componentFromPurl(affected.ref) : undefined;
      purlOs ??= fromPurl?.os;
      return {
        affected,
        pkg: component ?? fromPurl?.pkg,
        parent: affected.ref ? (parentOf.get(affected.ref) ?? fromPurl?.os) : undefined,
      };
    });
    const severity = chooseSeverity(v, osAdvisorySource(affects.map((a) => a.pkg)));
    for (const { affected, pkg, parent } of affects) {
      const pkgName = packageName(pkg);
      const fixed = fixedVersionFor(fixes, pkgName, pkg);
      const unaffected = (affected.versions ?? []).some((x) => x.status === "unaffected");
      findings.push({
        kind: "vulnerability",
        vulnerabilityId: v.id,
        pkgName,
        installedVersion: nonEmpty(pkg?.version) ?? nonEmpty(affected.versions?.[0]?.version),
        fixedVersion: nonEmpty(fixed),
        status: vexStatus ?? (unaffected ? "not_affected" : null),
        severity,
        target: targetOf(parent, pkg, bom.metadata?.component?.name),
        class: parent ? prop(parent, "Class") : null,
        // Newer Trivy tags packages with PkgType, older ones with Type; OS packages inherit their OS's Type.
        pkgType: prop(pkg, "PkgType") ?? prop(pkg, "Type") ?? (parent ? prop(parent, "Type") : null),
        purl: nonEmpty(pkg?.purl),
      });
    }
    const urls = (v.advisories ?? []).map((a) => nonEmpty(a.url)).filter((u): u is string => !!u);
    infos.add({
      id: v.id,
      title: null,
      description: nonEmpty(v.description),
      severity,
      cvssScore: bestScore(v.ratings ?? []),
      publishedAt: parseDate(v.published),
      lastModifiedAt: parseDate(v.updated),
      primaryUrl: urls.find((u) => u.startsWith("https://avd.aquasec.com/")) ?? urls[0] ?? null,
    });
  }

  const image = bom.metadata?.component ?? undefined;
  const isImage = image?.type === "container";
  const repoTags = props(image, "RepoTag");
  if (repoTags.length === 0 && isImage) {
    const tag = artifactNameAsTag(image?.name);
    if (tag) repoTags.push(tag);
  }
  const os = [...byRef.values()].find((c) => c.type === "operating-system") ?? purlOs;
  return {
    format: "cyclonedx",
    ...scannerOf(bom.metadata?.tools),
    scannedAt: parseDate(bom.metadata?.timestamp),
    artifactName: nonEmpty(image?.name),
    artifactType: isImage ? "container_image" : null,
    configDigest: prop(image, "ImageID"),
    osFamily: nonEmpty(os?.name),
    osName: nonEmpty(os?.version),
    repoDigests: [...new Set(props(image, "RepoDigest"))],
    repoTags: [...new Set(repoTags)],
    findings,
    vulnerabilities: infos.list(),
  };
}

/**
 * Trivy JSON's Result.Target: "<artifact> (<os> <version>)" for OS packages, the lock file (the application
 * component's name) for language packages, else the package's own file path.
 */
function targetOf(parent: Component | undefined, pkg: Component | undefined, artifact: string | null | undefined) {
  if (parent?.type === "operating-system") {
    const os = [nonEmpty(parent.name), nonEmpty(parent.version)].filter(Boolean).join(" ");
    return nonEmpty(artifact) ? `${artifact} (${os})` : os || null;
  }
  return nonEmpty(parent?.name) ?? prop(pkg, "FilePath");
}

type Tool = z.output<typeof toolSchema>;

function scannerOf(tools: Tool[] | { components?: Tool[] | null } | null | undefined) {
  const list = Array.isArray(tools) ? tools : (tools?.components ?? []);
  const trivy = list.find((t) => t.name?.toLowerCase() === "trivy");
  const tool = trivy ?? list[0];
  return {
    scanner: trivy ? "trivy" : (nonEmpty(tool?.name)?.toLowerCase() ?? "unknown"),
    scannerVersion: nonEmpty(tool?.version),
  };
}

/**
 * No vulnerabilities array → an SBOM without scan results. An empty array is refused too: Trivy writes
 * `"vulnerabilities": []` into every CycloneDX SBOM, scanned or not, so an empty list cannot prove that a
 * vulnerability scan ran, and accepting it would mark an unscanned image as clean.
 */
function refuseSbom(vulnerabilities: unknown[] | null | undefined): never {
  const what = vulnerabilities ? "an empty `vulnerabilities` array" : "no `vulnerabilities` array";
  throw unsupported(
    "sbom_without_vulnerabilities",
    `This CycloneDX BOM has ${what}: it is an SBOM without scan results (Trivy writes the same for an SBOM that ` +
      "was never scanned). Run `trivy image --format cyclonedx --scanners vuln <image>` and upload that; for an " +
      "image with no vulnerabilities, upload `trivy image --format json <image>` instead, which records that the " +
      "scan ran.",
  );
}
