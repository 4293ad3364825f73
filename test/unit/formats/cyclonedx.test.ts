import { DomainError } from "../../../src/domain/errors";
import { decodeCycloneDxReport } from "../../../src/formats/cyclonedx";
import { readFixtureJson } from "../../support/fixtures";
import { countDecoded, severityWord, thrown, zeroCounts } from "./helpers";

const FIXTURE = "fluentd-multiple-lockfiles-short.cdx.json.golden";
const bom = () => readFixtureJson(FIXTURE);

/**
 * Counts straight from the raw BOM: one finding per affects[] entry, severity from the rating of the
 * vulnerability's own source (its non-CVSSv2 rating if it has one), else NVD's, else the highest.
 */
function countRawBom(raw: any) {
  const counts = zeroCounts();
  const order = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
  for (const v of raw.vulnerabilities) {
    const of = (source: string) => {
      const own = v.ratings.filter((r: any) => r.source?.name === source);
      const rating = own.find((r: any) => r.method !== "CVSSv2") ?? own[0];
      return rating ? severityWord(rating.severity) : null;
    };
    const highest = v.ratings.map((r: any) => severityWord(r.severity)).sort((a: string, b: string) => order.indexOf(b) - order.indexOf(a))[0];
    const severity = of(v.source?.name) ?? of("nvd") ?? highest ?? "UNKNOWN";
    counts[severity as "LOW"] += v.affects.length;
  }
  return counts;
}

describe("CycloneDX decoder: the Trivy golden BOM", () => {
  it("counts by severity match the raw BOM", () => {
    const raw = bom();
    expect(countDecoded(decodeCycloneDxReport(raw))).toEqual(countRawBom(raw));
  });

  // Trivy's JSON report of the same image (integration/testdata/fluentd-multiple-lockfiles.json.golden) says:
  // CVE-2019-18224 CRITICAL (SeveritySource nvd: debian gave none), CVE-2019-18276 LOW (debian),
  // CVE-2020-8165 HIGH (ghsa). The CycloneDX decoder must agree with it.
  it("chooses the severity Trivy's JSON report gives for the same scan", () => {
    const bySeverity = Object.fromEntries(decodeCycloneDxReport(bom()).findings.map((f) => [f.vulnerabilityId, f.severity]));
    expect(bySeverity).toEqual({ "CVE-2019-18224": "CRITICAL", "CVE-2019-18276": "LOW", "CVE-2020-8165": "HIGH" });
  });

  it("resolves affects refs to components: name, version, purl, package type, fixed versions", () => {
    const r = decodeCycloneDxReport(bom());
    const gem = r.findings.find((f) => f.vulnerabilityId === "CVE-2020-8165")!;
    expect(gem).toMatchObject({
      pkgName: "activesupport",
      installedVersion: "6.0.2.1",
      fixedVersion: "6.0.3.1, 5.2.4.3", // "Upgrade activesupport to version 6.0.3.1, 5.2.4.3": the whole list
      pkgType: "gemspec",
      purl: "pkg:gem/activesupport@6.0.2.1",
      target: "var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec",
    });
    const deb = r.findings.find((f) => f.vulnerabilityId === "CVE-2019-18224")!;
    expect(deb).toMatchObject({
      pkgName: "libidn2-0",
      installedVersion: "2.0.5-1",
      fixedVersion: "2.0.5-1+deb10u1",
      pkgType: "debian",
      class: "os-pkgs",
      target: "integration/testdata/fixtures/images/fluentd-multiple-lockfiles.tar.gz (debian 10.2)",
    });
    expect(r.findings.find((f) => f.vulnerabilityId === "CVE-2019-18276")!.fixedVersion).toBeNull();
  });

  it("takes image identity, time and scanner from metadata", () => {
    const raw = bom();
    const r = decodeCycloneDxReport(raw);
    expect(r).toMatchObject({
      format: "cyclonedx",
      scanner: "trivy",
      scannerVersion: "dev",
      artifactName: raw.metadata.component.name,
      artifactType: "container_image",
      configDigest: "sha256:5a992077baba51b97f27591a10d54d2f2723dc9c81a3fe419e261023f2554933",
      osFamily: "debian",
      osName: "10.2",
      repoDigests: [],
      repoTags: [],
    });
    expect(r.scannedAt?.toISOString()).toBe("2021-08-25T12:20:30.000Z");
  });

  it("keeps vulnerability metadata: description, dates, highest CVSS v3 score, AVD link", () => {
    const info = decodeCycloneDxReport(bom()).vulnerabilities.find((v) => v.id === "CVE-2019-18224")!;
    expect(info).toMatchObject({ cvssScore: 9.8, severity: "CRITICAL", primaryUrl: "https://avd.aquasec.com/nvd/cve-2019-18224" });
    expect(info.publishedAt?.toISOString()).toBe("2019-10-21T17:15:00.000Z");
  });
});

describe("CycloneDX decoder: variations", () => {
  it("reads RepoDigest and RepoTag properties", () => {
    const raw = bom();
    const digest = "fluent/fluentd@sha256:" + "b".repeat(64);
    raw.metadata.component.properties.push(
      { name: "aquasecurity:trivy:RepoDigest", value: digest },
      { name: "aquasecurity:trivy:RepoTag", value: "fluent/fluentd:edge" },
    );
    const r = decodeCycloneDxReport(raw);
    expect(r.repoDigests).toEqual([digest]);
    expect(r.repoTags).toEqual(["fluent/fluentd:edge"]);
  });

  it("reads the scanner version from the pre-1.5 tools array", () => {
    const raw = bom();
    raw.specVersion = "1.4";
    raw.metadata.tools = [{ vendor: "aquasecurity", name: "trivy", version: "0.38.3" }];
    expect(decodeCycloneDxReport(raw).scannerVersion).toBe("0.38.3");
  });

  it("makes one finding per affected package, each with its own fixed version from the recommendation", () => {
    const raw = bom();
    const v = raw.vulnerabilities.find((x: any) => x.id === "CVE-2019-18224");
    v.affects.push({ ref: "pkg:deb/debian/bash@5.0-4?distro=debian-10.2", versions: [{ version: "5.0-4", status: "affected" }] });
    v.recommendation = "Upgrade bash to version 5.0-4+deb10u1; Upgrade libidn2-0 to version 2.0.5-1+deb10u1";
    const found = decodeCycloneDxReport(raw).findings.filter((f) => f.vulnerabilityId === "CVE-2019-18224");
    expect(found.map((f) => [f.pkgName, f.fixedVersion])).toEqual([
      ["libidn2-0", "2.0.5-1+deb10u1"],
      ["bash", "5.0-4+deb10u1"],
    ]);
  });

  it("falls back from the source's rating to NVD's, then to the highest, then UNKNOWN", () => {
    const raw = bom();
    const v = raw.vulnerabilities.find((x: any) => x.id === "CVE-2019-18276");
    const decode = () => decodeCycloneDxReport(raw).findings.find((f) => f.vulnerabilityId === v.id)!.severity;
    expect(decode()).toBe("LOW"); // debian's own rating
    v.source.name = "alpine";
    expect(decode()).toBe("HIGH"); // nvd's CVSSv31 rating
    v.ratings = v.ratings.filter((r: any) => r.source.name !== "nvd");
    expect(decode()).toBe("HIGH"); // highest of cbl-mariner high, photon high, others low
    v.ratings = [];
    expect(decode()).toBe("UNKNOWN");
  });

  // The shape of an older Trivy's `--format cyclonedx` for a scanned SBOM (integration/testdata/centos-7-cyclonedx):
  // no components, affects refs are BOM-Links to the SBOM's purls, and no vulnerability names its source. Trivy's
  // JSON of the same scan gives these packages with their epochs, the target "<artifact> (centos 7.6.1810)", type
  // centos, and Red Hat's severities (SeveritySource redhat), not NVD's.
  const vulnerabilityOnlyBom = () => ({
    bomFormat: "CycloneDX",
    specVersion: "1.4",
    serialNumber: "urn:uuid:5a0a3b1e-0000-4000-8000-000000000001",
    version: 1,
    metadata: {
      timestamp: "2023-05-11T09:41:28+00:00",
      tools: [{ vendor: "aquasecurity", name: "trivy", version: "0.41.0" }],
      component: { "bom-ref": "5a0a3b1e", type: "container", name: "registry.example.com/base/centos:7" },
    },
    vulnerabilities: [
      {
        id: "CVE-2019-18276",
        ratings: [
          { source: { name: "nvd" }, score: 7.8, severity: "high", method: "CVSSv31" },
          { source: { name: "redhat" }, score: 7.8, severity: "low", method: "CVSSv3" },
        ],
        affects: [
          {
            ref: "urn:cdx:5a0a3b1e-0000-4000-8000-000000000000/1#pkg:rpm/centos/bash@4.2.46-31.el7?arch=x86_64&distro=centos-7.6.1810",
            versions: [{ version: "4.2.46-31.el7", status: "affected" }],
          },
        ],
      },
      {
        id: "CVE-2019-1559",
        ratings: [
          { source: { name: "nvd" }, score: 5.9, severity: "medium", method: "CVSSv31" },
          { source: { name: "redhat" }, score: 5.9, severity: "medium", method: "CVSSv3" },
        ],
        recommendation: "Upgrade openssl-libs to version 1:1.0.2k-19.el7",
        affects: [
          {
            ref: "urn:cdx:5a0a3b1e-0000-4000-8000-000000000000/1#pkg:rpm/centos/openssl-libs@1.0.2k-16.el7?arch=x86_64&epoch=1&distro=centos-7.6.1810",
            versions: [{ version: "1.0.2k-16.el7", status: "affected" }],
          },
        ],
      },
      {
        id: "GHSA-67hx-6x53-jw92",
        ratings: [{ source: { name: "ghsa" }, severity: "critical", method: "CVSSv31" }, { source: { name: "nvd" }, severity: "high" }],
        affects: [{ ref: "urn:cdx:5a0a3b1e-0000-4000-8000-000000000000/1#pkg:npm/%40babel/traverse@7.22.8" }],
      },
      {
        id: "CVE-2022-42889",
        ratings: [{ source: { name: "nvd" }, severity: "critical", method: "CVSSv31" }],
        affects: [{ ref: "pkg:maven/org.apache.commons/commons-text@1.9" }, { ref: "pkg:golang/github.com/example/mod@v1.2.3" }],
      },
    ],
  });

  it("reads a vulnerability-only BOM's packages from the purls its BOM-Links name, as Trivy's JSON of the scan lists them", () => {
    const r = decodeCycloneDxReport(vulnerabilityOnlyBom());
    expect(r.findings.map((f) => [f.vulnerabilityId, f.pkgName, f.installedVersion, f.fixedVersion, f.severity])).toEqual([
      ["CVE-2019-18276", "bash", "4.2.46-31.el7", null, "LOW"],
      ["CVE-2019-1559", "openssl-libs", "1:1.0.2k-16.el7", "1:1.0.2k-19.el7", "MEDIUM"],
      ["GHSA-67hx-6x53-jw92", "@babel/traverse", "7.22.8", null, "CRITICAL"],
      ["CVE-2022-42889", "org.apache.commons:commons-text", "1.9", null, "CRITICAL"],
      ["CVE-2022-42889", "github.com/example/mod", "v1.2.3", null, "CRITICAL"],
    ]);
    const bash = r.findings[0]!;
    expect(bash.purl).toBe("pkg:rpm/centos/bash@4.2.46-31.el7?arch=x86_64&distro=centos-7.6.1810");
    expect([bash.target, bash.class, bash.pkgType]).toEqual(["registry.example.com/base/centos:7 (centos 7.6.1810)", "os-pkgs", "centos"]);
    expect(r.findings[2]!.class).toBeNull();
    expect([r.osFamily, r.osName]).toEqual(["centos", "7.6.1810"]);
  });

  it("without the vulnerability's source, takes an OS package's severity from its distribution's advisories, then NVD's", () => {
    const raw = vulnerabilityOnlyBom();
    const severity = () => decodeCycloneDxReport(raw).findings[0]!.severity;
    expect(severity()).toBe("LOW"); // redhat's rating, for a CentOS package
    (raw.vulnerabilities[0] as any).source = { name: "nvd" };
    expect(severity()).toBe("HIGH"); // a named source wins
    delete (raw.vulnerabilities[0] as any).source;
    raw.vulnerabilities[0]!.affects[0]!.ref = "urn:cdx:x/1#pkg:rpm/fedora/bash@5.2?distro=fedora-39";
    expect(severity()).toBe("HIGH"); // no advisory source known for fedora: NVD's
    raw.vulnerabilities[0]!.ratings[1]!.source.name = "debian";
    raw.vulnerabilities[0]!.affects[0]!.ref = "urn:cdx:x/1#pkg:deb/debian/bash@5.0-4?distro=debian-10.2";
    expect(severity()).toBe("LOW"); // debian's rating for a Debian package
  });

  it("treats a VEX analysis of not_affected as status not_affected", () => {
    const raw = bom();
    raw.vulnerabilities[0].analysis = { state: "not_affected", justification: "code_not_reachable" };
    expect(decodeCycloneDxReport(raw).findings[0]!.status).toBe("not_affected");
  });

  it("decodes with unknown fields and without optional ones", () => {
    const raw = bom();
    raw.annotations = [{ text: "new in 1.7" }];
    raw.vulnerabilities[0].proofOfConcept = { reproductionSteps: "x" };
    delete raw.metadata.timestamp;
    delete raw.metadata.tools;
    delete raw.dependencies;
    for (const v of raw.vulnerabilities) delete v.advisories;
    const r = decodeCycloneDxReport(raw);
    expect(countDecoded(r)).toEqual(countRawBom(bom()));
    expect(r.scannedAt).toBeNull();
    expect(r.scannerVersion).toBeNull();
  });
});

describe("CycloneDX decoder: refusals", () => {
  it("refuses an SBOM without a vulnerabilities array, telling the user to scan with --scanners vuln", () => {
    const raw = bom();
    delete raw.vulnerabilities;
    const err = thrown(() => decodeCycloneDxReport(raw));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.kind).toBe("unsupported");
    expect(err.code).toBe("sbom_without_vulnerabilities");
    expect(err.message).toContain("trivy image --format cyclonedx --scanners vuln");
  });

  // Trivy writes `"vulnerabilities": []` into every CycloneDX SBOM, scanned or not: an empty list cannot prove a
  // scan ran, so it is refused rather than recorded as a clean image.
  it("refuses an empty vulnerabilities array the same way", () => {
    const raw = bom();
    raw.vulnerabilities = [];
    expect(thrown(() => decodeCycloneDxReport(raw)).code).toBe("sbom_without_vulnerabilities");
  });

  it("reports shape errors with paths", () => {
    const raw = bom();
    raw.vulnerabilities[1].ratings[0].severity = 3;
    const err = thrown(() => decodeCycloneDxReport(raw));
    expect(err.code).toBe("invalid_report");
    expect(err.errors[0].path).toBe("vulnerabilities.1.ratings.0.severity");
  });
});
