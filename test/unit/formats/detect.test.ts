import { DomainError } from "../../../src/domain/errors";
import { detectFormat } from "../../../src/formats/detect";
import { readFixtureJson } from "../../support/fixtures";
import { thrown } from "./helpers";

function refusal(json: unknown) {
  const err = thrown(() => detectFormat(json));
  expect(err).toBeInstanceOf(DomainError);
  expect(err.kind).toBe("unsupported");
  return err as DomainError;
}

describe("detectFormat: accepted formats", () => {
  it.each([
    ["alpine-310.json.golden", "trivy"],
    ["juice-shop-v10.2.0.json", "trivy"],
    ["misconfigurations_and_secrets.json", "trivy"],
    ["sl-micro-rancher5.4.json.golden", "trivy"],
    ["alpine-310.sarif.golden", "sarif"],
    ["fluentd-multiple-lockfiles-short.cdx.json.golden", "cyclonedx"],
    ["vulnerabilityreport_many.json", "trivy-operator"],
  ])("%s is %s", (name, format) => {
    expect(detectFormat(readFixtureJson(name))).toBe(format);
  });

  it("recognises SARIF by version 2.1.0 and runs even without $schema", () => {
    const sarif = readFixtureJson("alpine-310.sarif.golden");
    delete sarif.$schema;
    expect(detectFormat(sarif)).toBe("sarif");
  });

  it("recognises Trivy Operator Lists, kubectl's generic List and the webhook envelope", () => {
    const resource = readFixtureJson("vulnerabilityreport_many.json");
    expect(detectFormat({ apiVersion: resource.apiVersion, kind: "VulnerabilityReportList", items: [resource] })).toBe(
      "trivy-operator",
    );
    expect(detectFormat({ apiVersion: "v1", kind: "List", items: [resource] })).toBe("trivy-operator");
    expect(detectFormat({ verb: "update", operatorObject: resource })).toBe("trivy-operator");
    expect(detectFormat({ operatorObject: resource })).toBe("trivy-operator");
    expect(detectFormat({ ...resource, kind: "ExposedSecretReport" })).toBe("trivy-operator");
  });

  it("recognises an ECR DescribeImageScanFindings response (imported elsewhere, refused on upload)", () => {
    expect(detectFormat({ repositoryName: "app", imageId: {}, imageScanFindings: { findings: [] } })).toBe("ecr");
  });
});

describe("detectFormat: refusals name what was recognised and what to do", () => {
  it("a top-level array of results is a SchemaVersion 1 report from Trivy < 0.19", () => {
    const v2 = readFixtureJson("alpine-310.json.golden");
    const v1 = v2.Results.map((r: any) => ({ Target: r.Target, Type: r.Type, Vulnerabilities: r.Vulnerabilities }));
    const err = refusal(v1);
    expect(err.code).toBe("trivy_schema_v1");
    expect(err.message).toMatch(/0\.19/);
    expect(err.message).toMatch(/--format json/);
  });

  it("a `trivy k8s` cluster report is refused with a pointer to `trivy image` and the operator", () => {
    const results = readFixtureJson("alpine-310.json.golden").Results;
    const k8s = {
      ClusterName: "kind-kind",
      Resources: [{ Namespace: "default", Kind: "Deployment", Name: "web", Results: results }],
    };
    const err = refusal(k8s);
    expect(err.code).toBe("trivy_k8s_report");
    expect(err.message).toMatch(/trivy image/);
    expect(err.message).toMatch(/Trivy Operator/);
    // The older k8s summary shape had Vulnerabilities/Misconfigurations at the top.
    expect(refusal({ ClusterName: "c", Vulnerabilities: [{ Results: results }] }).code).toBe("trivy_k8s_report");
  });

  it.each([1, 3, "2"])("SchemaVersion %p is refused as unsupported_schema_version", (version) => {
    const json = readFixtureJson("alpine-310.json.golden");
    json.SchemaVersion = version;
    const err = refusal(json);
    expect(err.code).toBe("unsupported_schema_version");
    expect(err.message).toContain("SchemaVersion 2");
  });

  it("a Trivy-looking report without SchemaVersion is refused as unsupported_schema_version", () => {
    const json = readFixtureJson("alpine-310.json.golden");
    delete json.SchemaVersion;
    expect(refusal(json).code).toBe("unsupported_schema_version");
  });

  it("an SPDX document is refused", () => {
    const err = refusal({ spdxVersion: "SPDX-2.3", SPDXID: "SPDXRef-DOCUMENT", name: "alpine", packages: [] });
    expect(err.code).toBe("spdx_not_supported");
    expect(err.message).toMatch(/trivy image --format json/);
  });

  // Shapes of Trivy's other outputs (its integration goldens alpine-310.asff, .gitlab, .gitlab-codequality, .gsbom).
  const asffFinding = {
    SchemaVersion: "2018-10-08",
    Id: "alpine:3.10/CVE-2019-1549",
    ProductArn: "arn:aws:securityhub:eu-west-1::product/aquasecurity/aquasecurity",
    GeneratorId: "Trivy",
    AwsAccountId: "123456789012",
    Types: ["Software and Configuration Checks/Vulnerabilities/CVE"],
    Severity: { Label: "MEDIUM" },
    Resources: [{ Type: "Container", Id: "alpine:3.10", Details: { Container: { ImageName: "alpine:3.10" } } }],
  };
  it.each([
    ["an ASFF array", [asffFinding], "asff_not_supported", /Security Hub/],
    ["ASFF for batch-import-findings", { Findings: [asffFinding] }, "asff_not_supported", /Security Hub/],
    ["one ASFF finding", asffFinding, "asff_not_supported", /Security Hub/],
    [
      "a GitLab security report",
      {
        version: "15.0.7",
        scan: { scanner: { id: "trivy", name: "Trivy" }, type: "container_scanning", status: "success" },
        vulnerabilities: [{ id: "x", location: { dependency: { package: { name: "openssl" }, version: "1.1.1c-r0" }, image: "alpine:3.10" } }],
        remediations: [],
      },
      "gitlab_report_not_supported",
      /GitLab security report \(container_scanning\)/,
    ],
    [
      "a GitLab Code Quality report",
      [{ type: "issue", check_name: "container_scanning", description: "CVE-2019-1549", fingerprint: "ab12", severity: "major", location: { path: "alpine:3.10", lines: { begin: 0 } } }],
      "gitlab_codequality_not_supported",
      /GitLab Code Quality/,
    ],
    [
      "a GitHub dependency snapshot",
      { version: 0, detector: { name: "trivy", version: "0.50.0", url: "https://github.com/aquasecurity/trivy" }, job: { correlator: "c", id: "1" }, ref: "refs/heads/main", sha: "abc", scanned: "2021-08-25T12:20:30Z", manifests: {} },
      "github_snapshot_not_supported",
      /dependency snapshot/,
    ],
  ])("%s is refused by name, pointing at the JSON format", (_name, json, code, what) => {
    const err = refusal(json);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(what);
    expect(err.message).toMatch(/trivy image --format json/);
  });

  it("an operator resource of another kind is refused", () => {
    const audit = { apiVersion: "aquasecurity.github.io/v1alpha1", kind: "ConfigAuditReport", report: {} };
    expect(refusal(audit).code).toBe("unsupported_operator_report");
    expect(refusal({ verb: "update", operatorObject: audit }).code).toBe("unsupported_operator_report");
    expect(refusal({ apiVersion: "v1", kind: "List", items: [audit] }).code).toBe("unsupported_operator_report");
  });

  it.each([
    ["an unrelated object", { hello: "world" }],
    ["an empty object", {}],
    ["a string", "report"],
    ["null", null],
    ["an array of numbers", [1, 2, 3]],
    ["an empty array", []],
  ])("%s is unknown_format, listing the accepted formats", (_label, json) => {
    const err = refusal(json);
    expect(err.code).toBe("unknown_format");
    expect(err.message).toMatch(/Trivy JSON/);
    expect(err.message).toMatch(/SARIF/);
    expect(err.message).toMatch(/CycloneDX/);
    expect(err.message).toMatch(/Trivy Operator/);
  });
});
