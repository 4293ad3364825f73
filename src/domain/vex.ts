/**
 * Exceptions as Trivy reads them, and OpenVEX documents as exceptions. Pure: the use cases in
 * src/policy/exception-service.ts read and write the rows. What Trivy honours, and why each choice here was made, is in
 * docs/vex.md (read from Trivy's pkg/result/ignore.go, pkg/vex/openvex.go, pkg/purl/purl.go and openvex/go-vex).
 */
import { stringify } from "yaml";
import { isDigest, parseRepositoryName } from "./image-reference";
import type { VexJustification } from "./exception";
import type { FindingKind } from "./severity";

/** One exception in force for the export's target (an ExceptionRow's fields that an export uses). */
export interface ExportedException {
  id: string;
  vulnerability_id: string;
  repository: string | null;
  image_digest: string | null;
  reason: string;
  justification: VexJustification | null;
  created_at: Date;
  expires_at: Date | null;
}

export type ExportTarget =
  | { kind: "image"; imageDigest: string; repository: string | null }
  | { kind: "repository"; repository: string };

// ---------------------------------------------------------------------------------------------------------------
// pkg:oci purls, the way Trivy builds the image's own (pkg/purl/purl.go parseOCI)

/**
 * The `repository_url` qualifier Trivy writes for an image of this repository: go-containerregistry's
 * Repository.Name(), i.e. the registry as go-containerregistry spells it (Docker Hub is `index.docker.io`) and the
 * repository path. The registry stores Docker Hub repositories as `docker.io/...`.
 */
export function trivyRepositoryUrl(repository: string): string {
  return repository.startsWith("docker.io/") ? `index.docker.io/${repository.slice("docker.io/".length)}` : repository;
}

/** The registry's spelling of a repository_url (index.docker.io → docker.io), the inverse of trivyRepositoryUrl. */
export function repositoryFromRepositoryUrl(url: string): string {
  const lower = url.toLowerCase();
  for (const hub of ["index.docker.io/", "registry-1.docker.io/", "docker.io/"])
    if (lower.startsWith(hub)) {
      const path = lower.slice(hub.length);
      return `docker.io/${path.includes("/") ? path : `library/${path}`}`;
    }
  return lower;
}

/**
 * `pkg:oci/<last path segment>[@<digest>]?repository_url=<registry/path>`: without a version it matches every digest
 * of the repository, without an `arch` qualifier every architecture (go-vex PurlMatches: the statement's purl is the
 * general one; its version and qualifiers, when present, must be in the image's).
 */
export function ociPurl(repository: string, digest: string | null): string {
  const name = repository.slice(repository.lastIndexOf("/") + 1).toLowerCase();
  return `pkg:oci/${encodeURIComponent(name)}${digest ? `@${encodeURIComponent(digest)}` : ""}?repository_url=${encodeURIComponent(trivyRepositoryUrl(repository))}`;
}

export interface ParsedPurl {
  type: string;
  namespace: string;
  name: string;
  version: string;
  qualifiers: Map<string, string>;
  subpath: string;
}

/** A package URL split as the purl specification (and packageurl-go's FromString) does; null when it is not one. */
export function parsePurl(input: string): ParsedPurl | null {
  if (!input.startsWith("pkg:")) return null;
  let rest = input.slice(4).replace(/^\/+/, "");
  let subpath = "";
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    subpath = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const qualifiers = new Map<string, string>();
  const q = rest.indexOf("?");
  try {
    if (q >= 0) {
      for (const pair of rest.slice(q + 1).split("&")) {
        if (pair === "") continue;
        const eq = pair.indexOf("=");
        if (eq <= 0) return null;
        const value = decodeURIComponent(pair.slice(eq + 1));
        if (value !== "") qualifiers.set(pair.slice(0, eq).toLowerCase(), value);
      }
      rest = rest.slice(0, q);
    }
    const slash = rest.indexOf("/");
    if (slash <= 0) return null;
    const type = rest.slice(0, slash).toLowerCase();
    let path = rest.slice(slash + 1).replace(/\/+$/, "");
    let version = "";
    const at = path.lastIndexOf("@");
    if (at >= 0) {
      version = decodeURIComponent(path.slice(at + 1));
      path = path.slice(0, at);
    }
    const segments = path.split("/").filter((s) => s !== "").map(decodeURIComponent);
    const name = segments.pop();
    if (!name || !/^[a-z][a-z0-9.+-]*$/.test(type)) return null;
    return { type, namespace: segments.join("/"), name, version, qualifiers, subpath };
  } catch {
    return null; // a malformed percent-escape
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Export

/** Which `.trivyignore.yaml` sections an ID goes in: the kinds its findings have, or all three when none is known. */
export type KindsById = ReadonlyMap<string, ReadonlySet<FindingKind>>;

const SECTION: Record<FindingKind, "vulnerabilities" | "secrets" | "misconfigurations"> = {
  vulnerability: "vulnerabilities",
  secret: "secrets",
  misconfiguration: "misconfigurations",
};

/** IDs that can only be vulnerabilities (CVE, GHSA), whatever the target's findings say. */
const ADVISORY = /^(CVE|GHSA)-/;

function statementText(e: ExportedException): string {
  return `${e.reason}${e.justification ? ` [OpenVEX: ${e.justification}]` : ""} (scan-registry exception ${e.id}, ${scope(e)})`;
}

function scope(e: ExportedException): string {
  if (e.image_digest && e.repository) return `${e.repository} @ ${e.image_digest}`;
  return e.image_digest ?? e.repository ?? "everywhere";
}

/**
 * `.trivyignore.yaml`: one entry per exception, in the sections of the kinds its ID has in the target's findings
 * (unknown: `vulnerabilities` for a CVE or GHSA ID, else every section, as Trivy itself treats the IDs of a plain
 * `.trivyignore`). No `paths` or `purls`: an
 * exception covers every finding of its ID in the images of its scope, and Trivy then ignores every finding with the
 * ID. `expired_at` is an unquoted timestamp, which yaml.v3 decodes into Trivy's time.Time.
 */
export function formatTrivyIgnore(exceptions: readonly ExportedException[], kinds: KindsById, meta: { target: string; generatedAt: Date }): string {
  const sections = { vulnerabilities: [] as object[], misconfigurations: [] as object[], secrets: [] as object[] };
  for (const e of exceptions) {
    const entry = { id: e.vulnerability_id, statement: statementText(e), ...(e.expires_at ? { expired_at: e.expires_at.toISOString() } : {}) };
    const known = kinds.get(e.vulnerability_id);
    const targets =
      known && known.size > 0
        ? [...known].map((k) => SECTION[k])
        : ADVISORY.test(e.vulnerability_id)
          ? (["vulnerabilities"] as const)
          : (["vulnerabilities", "misconfigurations", "secrets"] as const);
    for (const section of new Set(targets)) sections[section].push(entry);
  }
  const header =
    `# .trivyignore.yaml written by scan-registry at ${meta.generatedAt.toISOString()} for ${meta.target}:\n` +
    `# the exceptions in force for it. Use with: trivy image --ignorefile .trivyignore.yaml <image>\n`;
  const body = Object.fromEntries(Object.entries(sections).filter(([, entries]) => entries.length > 0));
  return header + (Object.keys(body).length === 0 ? "{}\n" : stringify(body, { lineWidth: 0, aliasDuplicateObjects: false }));
}

export interface OpenVexDocument {
  "@context": string;
  "@id": string;
  author: string;
  role: string;
  timestamp: string;
  version: number;
  tooling: string;
  statements: Array<{
    vulnerability: { name: string };
    products: Array<{ "@id": string }>;
    status: "not_affected";
    justification?: VexJustification;
    impact_statement: string;
    status_notes: string;
    timestamp: string;
  }>;
}

/** The products an exception names in an export for this target: always the target's own image or repository purl. */
function productFor(e: ExportedException, target: ExportTarget): string {
  if (target.kind === "image") return ociPurl(target.repository!, target.imageDigest);
  return ociPurl(target.repository, e.image_digest);
}

/**
 * An OpenVEX 0.2.0 document: one `not_affected` statement per exception about a vulnerability (Trivy applies VEX to
 * vulnerabilities only; secret and check IDs are left to the ignore file). A justified exception carries its
 * justification; every statement carries the reason as `impact_statement`, which is what the specification (and
 * go-vex's Validate) accepts for a `not_affected` without a justification. Its products are pkg:oci purls of the
 * target (an image export: that digest; a repository export: the repository, or the digest for a digest-scoped
 * exception), which Trivy matches against the purl it builds for the scanned image from its RepoDigests.
 */
export function formatOpenVex(
  exceptions: readonly ExportedException[],
  kinds: KindsById,
  meta: { target: ExportTarget; generatedAt: Date; tooling: string; documentId: string },
): OpenVexDocument {
  const statements: OpenVexDocument["statements"] = [];
  for (const e of exceptions) {
    const known = kinds.get(e.vulnerability_id);
    if (known && known.size > 0 && !known.has("vulnerability")) continue;
    statements.push({
      vulnerability: { name: e.vulnerability_id },
      products: [{ "@id": productFor(e, meta.target) }],
      status: "not_affected",
      ...(e.justification ? { justification: e.justification } : {}),
      impact_statement: e.reason,
      status_notes: `scan-registry exception ${e.id} (${scope(e)}); ${e.expires_at ? `in force until ${e.expires_at.toISOString()}` : "no expiry"}`,
      timestamp: e.created_at.toISOString(),
    });
  }
  return {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": meta.documentId,
    author: "scan-registry",
    role: "policy exceptions",
    timestamp: meta.generatedAt.toISOString(),
    version: 1,
    tooling: meta.tooling,
    statements,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Import: OpenVEX not_affected statements → exceptions

export type VexStatus = "not_affected" | "affected" | "fixed" | "under_investigation";

/** An OpenVEX component as POST /v1/vex's schema has validated it. */
export interface VexComponentInput {
  "@id"?: string | undefined;
  identifiers?: Record<string, string> | undefined;
  hashes?: Record<string, string> | undefined;
}

export interface VexStatementInput {
  vulnerability: { name: string; aliases?: string[] | undefined };
  products?: Array<VexComponentInput & { subcomponents?: VexComponentInput[] | undefined }> | undefined;
  status: VexStatus;
  justification?: VexJustification | undefined;
  impact_statement?: string | undefined;
  status_notes?: string | undefined;
  timestamp?: string | undefined;
}

export interface VexDocumentInput {
  "@id": string;
  author: string;
  timestamp: string;
  statements: VexStatementInput[];
}

export type VexScope = { repository: string | null; imageDigest: string | null };

/** A statement's product the registry cannot turn into an exception's scope, and why (never guessed). */
export interface UnplacedProduct {
  path: string;
  vulnerability_id: string;
  product: string | null;
  reason: string;
}

/** A statement that is (for some scope) superseded or not a not_affected one: reported, no exception made. */
export interface SkippedStatement {
  path: string;
  vulnerability_id: string;
  status: VexStatus;
  reason: string;
}

export interface VexGrant {
  vulnerabilityId: string;
  repository: string | null;
  imageDigest: string | null;
  justification: VexJustification | null;
  reason: string;
  /** Where in the document it came from (statements.N.products.M). */
  path: string;
}


/**
 * The scope a product names, or why it names none:
 * - `pkg:oci/<name>@<digest>[?…]`: that digest (qualifiers are then redundant);
 * - `pkg:oci/<name>?repository_url=<registry/path>`: that repository (the name must be its last segment);
 * - `*`: everywhere — the registry's own spelling of "every product", which OpenVEX has none for;
 * - anything else (another purl type: a package; an oci purl with neither digest nor repository_url, or with a tag
 *   or arch but no digest; subcomponents, which would narrow the statement to packages that an exception, covering
 *   every package of an image, cannot express) is reported back.
 */
export function placeProduct(product: VexComponentInput & { subcomponents?: VexComponentInput[] | undefined }): { scope: VexScope } | { reason: string } {
  if ((product.subcomponents?.length ?? 0) > 0)
    return { reason: "the statement is limited to subcomponents (packages); an exception covers every package of an image, so it would say more than the statement" };
  const id = product["@id"] ?? product.identifiers?.purl;
  if (id === undefined) return { reason: "the product has no @id or purl identifier" };
  if (id === "*") return { scope: { repository: null, imageDigest: null } };
  const purl = parsePurl(id);
  if (!purl) return { reason: "the product is not a package URL (pkg:oci/…)" };
  if (purl.type !== "oci") return { reason: `a pkg:${purl.type} purl names a package, not an image; name the image as pkg:oci/<name>@<digest>?repository_url=<registry/path>` };
  const url = purl.qualifiers.get("repository_url");
  const repository = url === undefined ? null : repositoryFromRepositoryUrl(url);
  if (repository !== null && (parseRepositoryName(repository) !== repository || repository.slice(repository.lastIndexOf("/") + 1) !== purl.name.toLowerCase()))
    return { reason: "repository_url is not a repository whose last path segment is the purl's name" };
  if (purl.version !== "") {
    if (!isDigest(purl.version)) return { reason: "the purl's version is not an image digest (sha256:…)" };
    return { scope: { repository: null, imageDigest: purl.version } };
  }
  if (repository === null) return { reason: "a pkg:oci purl without a digest or a repository_url names no image or repository here" };
  const narrowing = [...purl.qualifiers.keys()].filter((k) => k !== "repository_url");
  if (narrowing.length > 0) return { reason: `without a digest, the qualifiers ${narrowing.join(", ")} narrow the repository to images the registry cannot tell apart` };
  return { scope: { repository, imageDigest: null } };
}

/**
 * Which exceptions a document asks for. Statements are taken in time order (their timestamp, else the document's)
 * and, for each vulnerability ID (its name and aliases, as Trivy matches them) and scope, the latest decides, as Trivy
 * and go-vex do: an exception is made only where that latest statement is not_affected.
 */
export function planVexImport(doc: VexDocumentInput, normalizeId: (id: string) => string | null): {
  grants: VexGrant[];
  unplaced: UnplacedProduct[];
  skipped: SkippedStatement[];
} {
  const docTime = Date.parse(doc.timestamp);
  const ordered = doc.statements
    .map((s, i) => ({ s, i, t: s.timestamp ? Date.parse(s.timestamp) : docTime }))
    .sort((a, b) => a.t - b.t || a.i - b.i);
  const unplaced: UnplacedProduct[] = [];
  const latest = new Map<string, { s: VexStatementInput; path: string; id: string; scope: VexScope; statementIndex: number }>();
  const superseded: SkippedStatement[] = [];
  for (const { s, i } of ordered) {
    const ids = [...new Set([s.vulnerability.name, ...(s.vulnerability.aliases ?? [])].map((v) => normalizeId(v)).filter((v): v is string => v !== null))];
    const products = s.products ?? [];
    if (products.length === 0) {
      for (const id of ids) unplaced.push({ path: `statements.${i}.products`, vulnerability_id: id, product: null, reason: "the statement names no product; name an image (pkg:oci purl) or * for everywhere" });
      continue;
    }
    products.forEach((p, j) => {
      const path = `statements.${i}.products.${j}`;
      const placed = placeProduct(p);
      if ("reason" in placed) {
        if (s.status === "not_affected")
          for (const id of ids) unplaced.push({ path, vulnerability_id: id, product: p["@id"] ?? p.identifiers?.purl ?? null, reason: placed.reason });
        return;
      }
      for (const id of ids) {
        const key = `${id}\u0000${placed.scope.repository ?? ""}\u0000${placed.scope.imageDigest ?? ""}`;
        const before = latest.get(key);
        if (before)
          superseded.push({ path: `statements.${before.statementIndex}`, vulnerability_id: id, status: before.s.status, reason: `superseded by the later statements.${i}` });
        latest.set(key, { s, path, id, scope: placed.scope, statementIndex: i });
      }
    });
  }
  const grants: VexGrant[] = [];
  const skipped: SkippedStatement[] = [...superseded];
  for (const { s, path, id, scope, statementIndex } of latest.values()) {
    if (s.status !== "not_affected") {
      skipped.push({ path: `statements.${statementIndex}`, vulnerability_id: id, status: s.status, reason: `the latest statement is ${s.status}: only not_affected becomes an exception` });
      continue;
    }
    const reason =
      s.impact_statement?.trim() ||
      s.status_notes?.trim() ||
      `OpenVEX ${doc["@id"]}: not_affected${s.justification ? ` (${s.justification})` : ""}`;
    grants.push({ vulnerabilityId: id, repository: scope.repository, imageDigest: scope.imageDigest, justification: s.justification ?? null, reason: reason.slice(0, 2000), path });
  }
  return { grants, unplaced, skipped };
}
