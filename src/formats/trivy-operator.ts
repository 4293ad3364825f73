/**
 * Trivy Operator custom resources (apiVersion aquasecurity.github.io/v1alpha1), shaped as in trivy-operator's
 * pkg/apis/aquasecurity/v1alpha1: VulnerabilityReport (and ClusterVulnerabilityReport, same `report` shape) and
 * ExposedSecretReport. They arrive as a single resource, as a List (`kubectl get vulnerabilityreports -o json`),
 * or inside the operator's webhook envelope `{verb, operatorObject}` (sent when deleted reports are broadcast).
 *
 * Unknown fields are ignored (zod's default object mode), optional/omitempty fields are optional, so resources from
 * other operator versions decode. Severity follows the Trivy JSON rule: unknown strings → UNKNOWN, non-strings are
 * shape errors.
 */
import { z } from "zod";
import { unsupported } from "../domain/errors";
import { formatImageReference, parseImageReference } from "../domain/image-reference";
import type { DecodedReport, Finding } from "../domain/report";
import { normalizeSeverity } from "../domain/severity";
import { workloadFromOperatorLabels, type WorkloadContainerRef } from "../domain/workload";
import { VulnerabilityInfoCollector, emptyInfo, isJsonObject, nonEmpty, parseDate, parseShape, positiveScore } from "./shared";

const VULNERABILITY_KINDS = new Set(["VulnerabilityReport", "ClusterVulnerabilityReport"]);
const SECRET_KINDS = new Set(["ExposedSecretReport"]);

export function isOperatorApiVersion(apiVersion: unknown): boolean {
  return typeof apiVersion === "string" && apiVersion.startsWith("aquasecurity.github.io/");
}

export function isSupportedOperatorKind(kind: unknown): boolean {
  return typeof kind === "string" && (VULNERABILITY_KINDS.has(kind) || SECRET_KINDS.has(kind));
}

export function isOperatorListKind(kind: unknown): boolean {
  return typeof kind === "string" && kind.endsWith("List") && isSupportedOperatorKind(kind.slice(0, -4));
}

const isObject = isJsonObject;

/** A Kubernetes List (`kind: …List` with `items`). */
export const isList = (v: unknown): v is Record<string, unknown> & { kind: string; items: unknown[] } =>
  isObject(v) && typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items);

/**
 * Strips the webhook envelope and expands Lists. `verb` is the webhook's verb (e.g. "update", "delete") or null
 * when the body was a bare resource; what a verb means is the caller's decision.
 */
export function unwrapOperatorPayload(json: unknown): { verb: string | null; resources: unknown[] } {
  let verb: string | null = null;
  let inner = json;
  if (isObject(json) && "operatorObject" in json) {
    verb = typeof json.verb === "string" ? json.verb : null;
    inner = json.operatorObject;
  }
  if (isList(inner)) return { verb, resources: inner.items };
  return { verb, resources: [inner] };
}

const optString = z.string().nullish();
const optNumber = z.number().nullish();

const commonReport = {
  updateTimestamp: optString,
  scanner: z.object({ name: optString, vendor: optString, version: optString }).nullish(),
  registry: z.object({ server: optString }).nullish(),
  artifact: z.object({ repository: optString, digest: optString, tag: optString }).nullish(),
};

const resourceEnvelope = {
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z
    .object({ name: optString, namespace: optString, creationTimestamp: optString, labels: z.record(z.string(), z.unknown()).nullish() })
    .nullish(),
};

const vulnerabilitySchema = z.object({
  vulnerabilityID: z.string().min(1),
  resource: optString,
  installedVersion: optString,
  fixedVersion: optString,
  publishedDate: optString,
  lastModifiedDate: optString,
  severity: optString,
  title: optString,
  description: optString,
  primaryLink: optString,
  score: optNumber,
  target: optString,
  class: optString,
  packageType: optString,
  packagePURL: optString,
  cvss: z.record(z.string(), z.object({ V2Score: optNumber, V3Score: optNumber }).nullish()).nullish(),
});

const vulnerabilityReportSchema = z.object({
  ...resourceEnvelope,
  report: z.object({
    ...commonReport,
    os: z.object({ family: optString, name: optString }).nullish(),
    vulnerabilities: z.array(vulnerabilitySchema).nullish(),
  }),
});

const exposedSecretReportSchema = z.object({
  ...resourceEnvelope,
  report: z.object({
    ...commonReport,
    secrets: z.array(
      z.object({ ruleID: z.string().min(1), severity: optString, title: optString, target: optString, category: optString }),
    ).nullish(),
  }),
});

type CommonReport = z.output<typeof vulnerabilityReportSchema>["report"];

/** Image identity of a resource: `<registry.server>/<artifact.repository>` with @digest and :tag, Docker-normalised. */
function imageIdentity(report: Pick<CommonReport, "registry" | "artifact">) {
  const repository = nonEmpty(report.artifact?.repository);
  if (repository === null) return { artifactName: null, repoDigests: [] as string[], repoTags: [] as string[] };
  const server = nonEmpty(report.registry?.server);
  const base = server ? `${server}/${repository}` : repository;
  const canonical = (suffix: string) => {
    const ref = parseImageReference(`${base}${suffix}`);
    // Unparseable (e.g. a non-sha256 digest): keep the text so the caller can report it rather than lose it.
    return ref ? formatImageReference(ref) : `${base}${suffix}`;
  };
  const digest = nonEmpty(report.artifact?.digest);
  const tag = nonEmpty(report.artifact?.tag);
  const repoDigests = digest ? [canonical(`@${digest}`)] : [];
  const repoTags = tag ? [canonical(`:${tag}`)] : [];
  return { artifactName: repoTags[0] ?? repoDigests[0] ?? canonical(""), repoDigests, repoTags };
}

function baseReport(r: CommonReport, metadata: { creationTimestamp?: string | null; labels?: Record<string, unknown> | null } | null | undefined) {
  const workload = workloadFromOperatorLabels(metadata?.labels);
  return {
    runsIn: workload ? [workload] : [],
    format: "trivy-operator" as const,
    scanner: (nonEmpty(r.scanner?.name) ?? "trivy").toLowerCase(),
    scannerVersion: nonEmpty(r.scanner?.version),
    scannedAt: parseDate(r.updateTimestamp) ?? parseDate(metadata?.creationTimestamp),
    artifactType: "container_image",
    configDigest: null,
    ...imageIdentity(r),
  };
}

export function decodeVulnerabilityReport(resource: unknown, pathPrefix = ""): DecodedReport {
  const res = parseShape(vulnerabilityReportSchema, resource, "Trivy Operator VulnerabilityReport", pathPrefix);
  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();
  for (const v of res.report.vulnerabilities ?? []) {
    const severity = normalizeSeverity(v.severity);
    findings.push({
      kind: "vulnerability",
      vulnerabilityId: v.vulnerabilityID,
      pkgName: nonEmpty(v.resource),
      installedVersion: nonEmpty(v.installedVersion),
      fixedVersion: nonEmpty(v.fixedVersion),
      status: null,
      severity,
      target: nonEmpty(v.target),
      class: nonEmpty(v.class),
      pkgType: nonEmpty(v.packageType),
      purl: nonEmpty(v.packagePURL),
    });
    const cvss3 = Object.values(v.cvss ?? {}).map((c) => positiveScore(c?.V3Score) ?? 0);
    infos.add({
      id: v.vulnerabilityID,
      title: nonEmpty(v.title),
      description: nonEmpty(v.description),
      severity,
      cvssScore: positiveScore(v.score) ?? positiveScore(Math.max(0, ...cvss3)),
      publishedAt: parseDate(v.publishedDate),
      lastModifiedAt: parseDate(v.lastModifiedDate),
      primaryUrl: nonEmpty(v.primaryLink),
    });
  }
  return {
    ...baseReport(res.report, res.metadata),
    osFamily: nonEmpty(res.report.os?.family),
    osName: nonEmpty(res.report.os?.name),
    findings,
    vulnerabilities: infos.list(),
  };
}

export function decodeExposedSecretReport(resource: unknown, pathPrefix = ""): DecodedReport {
  const res = parseShape(exposedSecretReportSchema, resource, "Trivy Operator ExposedSecretReport", pathPrefix);
  const findings: Finding[] = [];
  const infos = new VulnerabilityInfoCollector();
  for (const s of res.report.secrets ?? []) {
    const severity = normalizeSeverity(s.severity);
    findings.push({
      kind: "secret",
      vulnerabilityId: s.ruleID,
      pkgName: null,
      installedVersion: null,
      fixedVersion: null,
      status: null,
      severity,
      target: nonEmpty(s.target),
      class: "secret",
      pkgType: null,
      purl: null,
    });
    infos.add({ ...emptyInfo(s.ruleID), title: nonEmpty(s.title), severity });
  }
  return { ...baseReport(res.report, res.metadata), osFamily: null, osName: null, findings, vulnerabilities: infos.list() };
}

/** Decodes one resource by its kind; other kinds are refused (they do not describe an image's findings). */
export function decodeOperatorResource(resource: unknown, pathPrefix = ""): DecodedReport {
  const kind = isObject(resource) ? resource.kind : undefined;
  if (typeof kind === "string" && VULNERABILITY_KINDS.has(kind)) return decodeVulnerabilityReport(resource, pathPrefix);
  if (typeof kind === "string" && SECRET_KINDS.has(kind)) return decodeExposedSecretReport(resource, pathPrefix);
  throw unsupported(
    "unsupported_operator_report",
    `Resource ${pathPrefix || "(top level)"} is of kind ${JSON.stringify(kind ?? null)}; only VulnerabilityReport ` +
      "and ExposedSecretReport resources of Trivy Operator are accepted.",
  );
}

/** Every resource of a payload decoded separately (one report per image), for the operator webhook endpoint. */
export function decodeOperatorPayload(json: unknown): { verb: string | null; reports: DecodedReport[] } {
  const { verb, resources } = unwrapOperatorPayload(json);
  return { verb, reports: resources.map((r, i) => decodeOperatorResource(r, resourcePath(json, i))) };
}

/** Where resource `index` sits in the uploaded document, so shape errors point into the original body. */
export function resourcePath(json: unknown, index: number): string {
  const enveloped = isObject(json) && "operatorObject" in json;
  const inner = enveloped ? (json as Record<string, unknown>).operatorObject : json;
  return [enveloped ? "operatorObject" : "", isList(inner) ? `items.${index}` : ""].filter(Boolean).join(".");
}

/**
 * One upload = one report: the resources of a payload are combined only when they describe the same image (e.g.
 * its VulnerabilityReport and ExposedSecretReport). Several images in one upload are refused, because a report's
 * findings would otherwise be attributed to images that do not have them.
 */
export function decodeTrivyOperatorReport(json: unknown): DecodedReport {
  const { reports } = decodeOperatorPayload(json);
  const [first, ...rest] = reports;
  if (!first) {
    throw unsupported("empty_operator_list", "The Trivy Operator List has no items: there is no report to store.");
  }
  const key = (r: DecodedReport) => r.repoDigests[0] ?? r.repoTags[0] ?? r.artifactName;
  if (rest.some((r) => key(r) !== key(first))) {
    throw unsupported(
      "multiple_images",
      `The payload holds reports for ${new Set(reports.map(key)).size} different images; upload one image's ` +
        "resources per request, or send the operator's webhook to /v1/integrations/trivy-operator.",
    );
  }
  return combineImageReports(reports);
}

/** Several resources of one image → one report: all findings, the latest scan time, every name. */
export function combineImageReports(reports: readonly DecodedReport[]): DecodedReport {
  const first = reports[0]!;
  const infos = new VulnerabilityInfoCollector();
  for (const r of reports) for (const info of r.vulnerabilities) infos.add(info);
  const latest = reports.reduce((a, b) => ((b.scannedAt?.getTime() ?? 0) > (a.scannedAt?.getTime() ?? 0) ? b : a));
  return {
    ...first,
    scannedAt: latest.scannedAt,
    osFamily: reports.find((r) => r.osFamily)?.osFamily ?? null,
    osName: reports.find((r) => r.osName)?.osName ?? null,
    repoDigests: [...new Set(reports.flatMap((r) => r.repoDigests))],
    repoTags: [...new Set(reports.flatMap((r) => r.repoTags))],
    findings: reports.flatMap((r) => r.findings),
    vulnerabilities: infos.list(),
    runsIn: uniqueWorkloads(reports.flatMap((r) => r.runsIn ?? [])),
  };
}

function uniqueWorkloads(refs: readonly WorkloadContainerRef[]): WorkloadContainerRef[] {
  const seen = new Map<string, WorkloadContainerRef>();
  for (const r of refs) seen.set(JSON.stringify([r.namespace, r.kind, r.name, r.container]), r);
  return [...seen.values()];
}
