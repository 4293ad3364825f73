import { DomainError } from "../../../src/domain/errors";
import {
  decodeExposedSecretReport,
  decodeOperatorPayload,
  decodeTrivyOperatorReport,
  decodeVulnerabilityReport,
  unwrapOperatorPayload,
} from "../../../src/formats/trivy-operator";
import { readFixtureJson } from "../../support/fixtures";
import { countDecoded, severityWord, thrown, zeroCounts } from "./helpers";

const FIXTURE = "vulnerabilityreport_many.json";
const resource = () => readFixtureJson(FIXTURE);
const DIGEST = "sha256:" + "c".repeat(64);

function countRawOperator(res: any) {
  const counts = zeroCounts();
  for (const v of res.report.vulnerabilities ?? []) counts[severityWord(v.severity)] += 1;
  counts.secrets += (res.report.secrets ?? []).length;
  return counts;
}

function secretReport(overrides: Record<string, unknown> = {}) {
  const base = resource();
  return {
    apiVersion: base.apiVersion,
    kind: "ExposedSecretReport",
    metadata: base.metadata,
    report: {
      updateTimestamp: "2024-05-01T10:00:00Z",
      scanner: base.report.scanner,
      registry: base.report.registry,
      artifact: base.report.artifact,
      summary: { criticalCount: 1, highCount: 1, mediumCount: 0, lowCount: 0 },
      secrets: [
        { target: "/app/.env", ruleID: "aws-access-key-id", title: "AWS Access Key ID", category: "AWS", severity: "CRITICAL", match: "AKIA****" },
        { target: "/etc/key.pem", ruleID: "private-key", title: "Asymmetric Private Key", category: "AsymmetricPrivateKey", severity: "HIGH", match: "-----BEGIN" },
      ],
      ...overrides,
    },
  };
}

describe("Trivy Operator: VulnerabilityReport fixture", () => {
  it("counts by severity match the raw resource (and the operator's own summary)", () => {
    const raw = resource();
    const counts = countDecoded(decodeVulnerabilityReport(raw));
    expect(counts).toEqual(countRawOperator(raw));
    const s = raw.report.summary;
    expect([counts.CRITICAL, counts.HIGH, counts.MEDIUM, counts.LOW]).toEqual([s.criticalCount, s.highCount, s.mediumCount, s.lowCount]);
  });

  it("maps fields: package, versions, link, score, and Docker-normalised tag from registry + repository", () => {
    const raw = resource();
    const v = raw.report.vulnerabilities[0];
    const r = decodeVulnerabilityReport(raw);
    expect(r).toMatchObject({
      format: "trivy-operator",
      scanner: "trivy",
      scannerVersion: "0.38.2",
      repoTags: ["docker.io/library/nginx:alpine"], // index.docker.io + library/nginx + alpine
      repoDigests: [], // this resource has no artifact digest: decodable, the caller refuses with missing_digest
      artifactType: "container_image",
    });
    expect(r.scannedAt?.toISOString()).toBe(new Date(raw.report.updateTimestamp).toISOString());
    expect(r.findings[0]).toMatchObject({
      vulnerabilityId: v.vulnerabilityID,
      pkgName: v.resource,
      installedVersion: v.installedVersion,
      fixedVersion: v.fixedVersion,
      severity: v.severity,
      target: null, // "" in the resource
    });
    expect(r.vulnerabilities.find((i) => i.id === v.vulnerabilityID)).toMatchObject({
      title: v.title,
      cvssScore: v.score,
      primaryUrl: v.primaryLink,
    });
  });

  it("builds the repo digest as <registry>/<repository>@<digest>", () => {
    const raw = resource();
    raw.report.artifact.digest = DIGEST;
    expect(decodeVulnerabilityReport(raw).repoDigests).toEqual([`docker.io/library/nginx@${DIGEST}`]);
    raw.report.registry.server = "registry.example.com:5000";
    raw.report.artifact.repository = "team/app";
    expect(decodeVulnerabilityReport(raw).repoDigests).toEqual([`registry.example.com:5000/team/app@${DIGEST}`]);
  });

  it("keeps pkgPURL, class and package type when newer operators write them", () => {
    const raw = resource();
    Object.assign(raw.report.vulnerabilities[0], {
      packagePURL: "pkg:apk/alpine/curl@7.87.0-r1",
      class: "os-pkgs",
      packageType: "alpine",
      target: "nginx:alpine (alpine 3.17.2)",
    });
    raw.report.os = { family: "alpine", name: "3.17.2" };
    const r = decodeVulnerabilityReport(raw);
    expect(r.findings[0]).toMatchObject({ purl: "pkg:apk/alpine/curl@7.87.0-r1", class: "os-pkgs", pkgType: "alpine" });
    expect([r.osFamily, r.osName]).toEqual(["alpine", "3.17.2"]);
  });

  it("tolerates unknown fields and missing optional ones", () => {
    const raw = resource();
    raw.report.newField = { x: 1 };
    for (const v of raw.report.vulnerabilities) {
      v.epss = 0.1;
      delete v.links;
      delete v.score;
      delete v.target;
    }
    delete raw.report.updateTimestamp;
    const r = decodeVulnerabilityReport(raw);
    expect(countDecoded(r)).toEqual(countRawOperator(resource()));
    expect(r.scannedAt?.toISOString()).toBe(new Date(raw.metadata.creationTimestamp).toISOString());
  });

  it("reports shape errors with paths", () => {
    const raw = resource();
    raw.report.vulnerabilities[3].severity = 5;
    const err = thrown(() => decodeVulnerabilityReport(raw));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.errors[0].path).toBe("report.vulnerabilities.3.severity");
  });
});

describe("Trivy Operator: ExposedSecretReport", () => {
  it("maps secrets: ruleID, severity, title, target", () => {
    const raw = secretReport();
    const r = decodeExposedSecretReport(raw);
    expect(countDecoded(r)).toEqual(countRawOperator(raw));
    expect(r.findings.map((f) => [f.kind, f.vulnerabilityId, f.severity, f.target, f.status])).toEqual([
      ["secret", "aws-access-key-id", "CRITICAL", "/app/.env", null],
      ["secret", "private-key", "HIGH", "/etc/key.pem", null],
    ]);
    expect(r.vulnerabilities.find((i) => i.id === "private-key")?.title).toBe("Asymmetric Private Key");
    expect(r.scannedAt?.toISOString()).toBe("2024-05-01T10:00:00.000Z");
  });
});

describe("Trivy Operator: payload shapes", () => {
  it("unwraps the webhook envelope and Lists", () => {
    const res = resource();
    expect(unwrapOperatorPayload(res)).toEqual({ verb: null, resources: [res] });
    expect(unwrapOperatorPayload({ verb: "delete", operatorObject: res })).toEqual({ verb: "delete", resources: [res] });
    const list = { apiVersion: "aquasecurity.github.io/v1alpha1", kind: "VulnerabilityReportList", items: [res, res] };
    expect(unwrapOperatorPayload(list).resources).toHaveLength(2);
    expect(unwrapOperatorPayload({ verb: "update", operatorObject: list })).toEqual({ verb: "update", resources: [res, res] });
  });

  it("decodes each resource of a payload separately, with paths into the original body", () => {
    const bad = resource();
    bad.report.vulnerabilities[0].vulnerabilityID = 1;
    const list = { apiVersion: "v1", kind: "List", items: [resource(), bad] };
    const err = thrown(() => decodeOperatorPayload({ verb: "update", operatorObject: list }));
    expect(err.errors[0].path).toBe("operatorObject.items.1.report.vulnerabilities.0.vulnerabilityID");
    expect(decodeOperatorPayload({ apiVersion: "v1", kind: "List", items: [resource(), secretReport()] }).reports).toHaveLength(2);
  });

  it("combines a VulnerabilityReport and ExposedSecretReport of the same image into one report", () => {
    const list = { apiVersion: "v1", kind: "List", items: [resource(), secretReport()] };
    const r = decodeTrivyOperatorReport(list);
    const expected = countRawOperator(resource());
    expected.secrets = 2;
    expect(countDecoded(r)).toEqual(expected);
    expect(r.repoTags).toEqual(["docker.io/library/nginx:alpine"]);
  });

  it("refuses one upload holding several images", () => {
    const other = resource();
    other.report.artifact.repository = "library/redis";
    const err = thrown(() => decodeTrivyOperatorReport({ apiVersion: "v1", kind: "List", items: [resource(), other] }));
    expect(err.kind).toBe("unsupported");
    expect(err.code).toBe("multiple_images");
  });

  it("refuses an empty List", () => {
    const err = thrown(() => decodeTrivyOperatorReport({ apiVersion: "v1", kind: "List", items: [] }));
    expect(err.code).toBe("empty_operator_list");
  });
});
