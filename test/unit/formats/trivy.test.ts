import { DomainError } from "../../../src/domain/errors";
import fc from "fast-check";
import { summarizeFindings } from "../../../src/domain/summary";
import { decodeTrivyReport, isTrivyReportShape } from "../../../src/formats/trivy";
import { fixtureNames, readFixtureJson } from "../../support/fixtures";
import { countDecoded, countRawTrivy, thrown } from "./helpers";

/**
 * misconfigurations_and_secrets.json as Trivy writes it with `--show-suppressed` after an ignore file and a VEX
 * document took findings out of the lists (ExperimentalModifiedFindings, Trivy's pkg/types/finding.go): the first
 * vulnerability ignored, the second not_affected by VEX, a secret and the misconfiguration ignored, and a license.
 */
function withSuppressedFindings() {
  const raw = readFixtureJson("misconfigurations_and_secrets.json");
  const [vulns, misconfs, secrets] = [raw.Results[0], raw.Results[1], raw.Results[2]];
  const modified = (Type: string, Status: string, Finding: unknown) => ({ Type, Status, Statement: "accepted", Source: ".trivyignore.yaml", Finding });
  vulns.ExperimentalModifiedFindings = [
    modified("vulnerability", "ignored", vulns.Vulnerabilities.shift()),
    modified("vulnerability", "not_affected", vulns.Vulnerabilities.shift()),
    modified("license", "ignored", { Severity: "HIGH", Name: "GPL-3.0", PkgName: "x", Confidence: 1 }),
  ];
  misconfs.ExperimentalModifiedFindings = [modified("misconfiguration", "ignored", misconfs.Misconfigurations.shift())];
  secrets.ExperimentalModifiedFindings = [modified("secret", "ignored", secrets.Secrets.shift())];
  return raw;
}

const TRIVY_FIXTURES = fixtureNames().filter((name) => {
  const json = readFixtureJson(name);
  return !Array.isArray(json) && json.SchemaVersion === 2;
});

describe("Trivy JSON decoder: every Trivy JSON fixture", () => {
  it("finds the Trivy JSON fixtures", () => {
    expect(TRIVY_FIXTURES.length).toBeGreaterThanOrEqual(8);
  });

  it.each(TRIVY_FIXTURES)("%s: counts by severity, secrets and FAIL misconfigurations match the raw report", (name) => {
    const raw = readFixtureJson(name);
    const decoded = decodeTrivyReport(raw);
    expect(countDecoded(decoded)).toEqual(countRawTrivy(raw));
    expect(decoded.format).toBe("trivy");
    expect(decoded.scanner).toBe("trivy");
  });

  it.each(TRIVY_FIXTURES)("%s: one VulnerabilityInfo per distinct ID, every finding has one", (name) => {
    const decoded = decodeTrivyReport(readFixtureJson(name));
    const ids = new Set(decoded.findings.map((f) => f.vulnerabilityId));
    expect(new Set(decoded.vulnerabilities.map((v) => v.id))).toEqual(ids);
    expect(decoded.vulnerabilities).toHaveLength(ids.size);
  });
});

describe("Trivy JSON decoder: fields", () => {
  it("maps image identity and metadata (real-world report with RepoDigests, older Trivy)", () => {
    const raw = readFixtureJson("juice-shop-v10.2.0.json");
    const r = decodeTrivyReport(raw);
    expect(r.repoDigests).toEqual(raw.Metadata.RepoDigests);
    expect(r.repoTags).toEqual(raw.Metadata.RepoTags);
    expect(r.configDigest).toBe(raw.Metadata.ImageID);
    expect(r.osFamily).toBe(raw.Metadata.OS.Family);
    expect(r.osName).toBe(raw.Metadata.OS.Name);
    expect(r.artifactName).toBe(raw.ArtifactName);
    expect(r.artifactType).toBe("container_image");
    expect(r.scannedAt?.toISOString()).toBe(new Date(raw.CreatedAt).toISOString());
    expect(r.scannerVersion).toBeNull(); // this Trivy wrote no "Trivy" block
  });

  it("keeps the golden files' scanner version, creation time and nanosecond timestamps", () => {
    const r = decodeTrivyReport(readFixtureJson("alpine-310.json.golden"));
    expect(r.scannerVersion).toBe("dev");
    expect(r.scannedAt?.toISOString()).toBe("2021-08-25T12:20:30.000Z");
    expect(r.repoDigests).toEqual([]);
  });

  it("maps a vulnerability finding and its shared metadata", () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    const v = raw.Results[0].Vulnerabilities[0];
    const r = decodeTrivyReport(raw);
    expect(r.findings[0]).toEqual({
      kind: "vulnerability",
      vulnerabilityId: v.VulnerabilityID,
      pkgName: v.PkgName,
      installedVersion: v.InstalledVersion,
      fixedVersion: v.FixedVersion,
      status: v.Status,
      severity: v.Severity,
      target: raw.Results[0].Target,
      class: raw.Results[0].Class,
      pkgType: raw.Results[0].Type,
      purl: v.PkgIdentifier.PURL,
    });
    const info = r.vulnerabilities.find((i) => i.id === v.VulnerabilityID)!;
    const v3 = Object.values(v.CVSS as Record<string, { V3Score?: number }>).map((c) => c.V3Score ?? 0);
    expect(info).toMatchObject({
      title: v.Title,
      description: v.Description,
      severity: v.Severity,
      cvssScore: Math.max(...v3),
      primaryUrl: v.PrimaryURL,
    });
    expect(info.publishedAt?.toISOString()).toBe(new Date(v.PublishedDate).toISOString());
    expect(info.lastModifiedAt?.toISOString()).toBe(new Date(v.LastModifiedDate).toISOString());
  });

  it("takes the highest V3 score over sources, else the highest V2 score", () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    const v = raw.Results[0].Vulnerabilities[0];
    v.CVSS = { nvd: { V2Score: 5, V3Score: 5.3 }, redhat: { V3Score: 7.1 }, ghsa: { V2Score: 9.3 } };
    expect(decodeTrivyReport(raw).vulnerabilities[0]!.cvssScore).toBe(7.1);
    v.CVSS = { nvd: { V2Score: 5 }, redhat: { V2Score: 6.4 } };
    expect(decodeTrivyReport(raw).vulnerabilities[0]!.cvssScore).toBe(6.4);
  });

  it("keeps Trivy statuses such as will_not_fix and an empty FixedVersion as null", () => {
    const raw = readFixtureJson("centos-7.json.golden");
    const r = decodeTrivyReport(raw);
    const rawStatuses = raw.Results.flatMap((res: any) => res.Vulnerabilities ?? []).map((v: any) => v.Status ?? null);
    expect(r.findings.map((f) => f.status)).toEqual(rawStatuses);
    expect(r.findings.some((f) => f.status === "will_not_fix" && f.fixedVersion === null)).toBe(true);
  });

  it("maps secrets (RuleID, no status) and misconfigurations (ID, Status kept)", () => {
    const raw = readFixtureJson("misconfigurations_and_secrets.json");
    const r = decodeTrivyReport(raw);
    const secrets = r.findings.filter((f) => f.kind === "secret");
    const rawSecrets = raw.Results.flatMap((res: any) => res.Secrets ?? []);
    expect(secrets.map((s) => s.vulnerabilityId)).toEqual(rawSecrets.map((s: any) => s.RuleID));
    expect(secrets.every((s) => s.status === null && s.pkgName === null)).toBe(true);
    const misconf = r.findings.find((f) => f.kind === "misconfiguration")!;
    expect(misconf).toMatchObject({ vulnerabilityId: "DS002", status: "FAIL", severity: "HIGH", target: "Dockerfile" });
    expect(r.vulnerabilities.find((i) => i.id === "DS002")?.primaryUrl).toBe("https://avd.aquasec.com/misconfig/ds002");
    expect(r.artifactType).toBe("filesystem");
    expect(r.repoTags).toEqual([]); // not an image: ArtifactName "." is no tag
  });

  it("keeps PASS and EXCEPTION misconfigurations with their status, and falls back to AVDID", () => {
    const raw = readFixtureJson("misconfigurations_and_secrets.json");
    const misconfs = raw.Results[1].Misconfigurations;
    misconfs.push({ ...misconfs[0], ID: "DS001", Status: "PASS" });
    misconfs.push({ ...misconfs[0], ID: undefined, AVDID: "AVD-DS-0026", Status: "EXCEPTION" });
    const found = decodeTrivyReport(raw).findings.filter((f) => f.kind === "misconfiguration");
    expect(found.map((f) => [f.vulnerabilityId, f.status])).toEqual([
      ["DS002", "FAIL"],
      ["DS001", "PASS"],
      ["AVD-DS-0026", "EXCEPTION"],
    ]);
    expect(countDecoded(decodeTrivyReport(raw)).failedMisconfigurations).toBe(1);
  });

  it("keeps what an ignore file or VEX took out of the lists (--show-suppressed) as findings: not_affected never counts, ignored does", () => {
    const original = decodeTrivyReport(readFixtureJson("misconfigurations_and_secrets.json"));
    const r = decodeTrivyReport(withSuppressedFindings());
    const key = (f: { kind: string; vulnerabilityId: string; pkgName: string | null; target: string | null }) => `${f.kind} ${f.vulnerabilityId} ${f.pkgName} ${f.target}`;
    // The same findings (the license is none), each once, with the same package, severity and place.
    expect(r.findings.map(key).sort()).toEqual(original.findings.map(key).sort());
    const statusOf = (id: string) => r.findings.find((f) => f.vulnerabilityId === id)!.status;
    const ids = readFixtureJson("misconfigurations_and_secrets.json").Results[0].Vulnerabilities.map((v: any) => v.VulnerabilityID);
    expect([statusOf(ids[0]), statusOf(ids[1])]).toEqual(["ignored", "not_affected"]);
    expect(statusOf("DS002")).toBe("FAIL");
    expect(r.findings.filter((f) => f.kind === "secret").map((f) => f.status)).toEqual(["ignored", null]);
    // Counted as without the filter, except the one a VEX document says is not affected.
    const notAffected = original.findings.find((f) => f.vulnerabilityId === ids[1])!;
    const expected = summarizeFindings(original.findings.filter((f) => f !== notAffected));
    expect(summarizeFindings(r.findings)).toEqual(expected);
    expect(summarizeFindings(r.findings)).not.toEqual(summarizeFindings(original.findings));
  });

  it("uses ArtifactName as the tag of an image without RepoTags, but never an archive path", () => {
    const raw = readFixtureJson("juice-shop-v10.2.0.json");
    delete raw.Metadata.RepoTags;
    expect(decodeTrivyReport(raw).repoTags).toEqual(["bkimminich/juice-shop:v10.2.0"]);

    const golden = readFixtureJson("alpine-310.json.golden");
    delete golden.Metadata.RepoTags;
    expect(decodeTrivyReport(golden).repoTags).toEqual([]); // "testdata/fixtures/images/alpine-310.tar.gz"
  });

  it("ignores empty strings in RepoDigests", () => {
    const raw = readFixtureJson("juice-shop-v10.2.0.json");
    raw.Metadata.RepoDigests = ["", ...raw.Metadata.RepoDigests, "  "];
    expect(decodeTrivyReport(raw).repoDigests).toHaveLength(1);
  });
});

describe("Trivy JSON decoder: tolerance of other Trivy versions", () => {
  it("decodes with unknown new fields at every level", () => {
    const raw = readFixtureJson("juice-shop-v10.2.0.json");
    const expected = countRawTrivy(raw);
    raw.SomethingNew = { nested: [1, 2, 3] };
    raw.Metadata.NewMetadata = "x";
    for (const result of raw.Results) {
      result.NewResultField = true;
      for (const v of result.Vulnerabilities ?? []) v.EPSS = { score: 0.5 };
      for (const s of result.Secrets ?? []) s.Offset = 12;
    }
    expect(countDecoded(decodeTrivyReport(raw))).toEqual(expected);
  });

  it("decodes without optional fields older versions lack (CreatedAt, Trivy, VendorSeverity, Status, PkgIdentifier, ...)", () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    const expected = countRawTrivy(raw);
    for (const key of ["CreatedAt", "Trivy", "ReportID", "ArtifactID"]) delete raw[key];
    for (const key of ["OS", "ImageID", "RepoTags", "RepoDigests"]) delete raw.Metadata[key];
    for (const v of raw.Results[0].Vulnerabilities) {
      for (const key of ["VendorSeverity", "Status", "PkgIdentifier", "CVSS", "PublishedDate", "LastModifiedDate", "Title", "FixedVersion", "PrimaryURL"]) {
        delete v[key];
      }
    }
    const r = decodeTrivyReport(raw);
    expect(countDecoded(r)).toEqual(expected);
    expect(r.scannedAt).toBeNull();
    expect(r.scannerVersion).toBeNull();
    expect(r.configDigest).toBeNull();
    expect(r.findings[0]).toMatchObject({ status: null, purl: null, fixedVersion: null });
  });

  it("accepts null or absent Results and null Vulnerabilities", () => {
    const raw = readFixtureJson("sl-micro-rancher5.4.json.golden");
    raw.Results = null;
    expect(decodeTrivyReport(raw).findings).toEqual([]);
    delete raw.Results;
    expect(decodeTrivyReport(raw).findings).toEqual([]);
    const alpine = readFixtureJson("alpine-310.json.golden");
    alpine.Results[0].Vulnerabilities = null;
    expect(decodeTrivyReport(alpine).findings).toEqual([]);
  });

  it("normalises severity casing and maps unknown severity words to UNKNOWN, as Trivy does", () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    raw.Results[0].Vulnerabilities[0].Severity = "medium";
    raw.Results[0].Vulnerabilities[1].Severity = "NEGLIGIBLE";
    delete raw.Results[0].Vulnerabilities[2].Severity;
    const severities = decodeTrivyReport(raw).findings.map((f) => f.severity);
    expect(severities.slice(0, 3)).toEqual(["MEDIUM", "UNKNOWN", "UNKNOWN"]);
  });
});

describe("Trivy JSON decoder: shape errors", () => {
  // A non-string severity is not something any Trivy writes: refusing it (422 with a path) is safer than
  // coercing it to UNKNOWN, which could let a CRITICAL finding slip past a policy.
  it("refuses a numeric Severity with the path of the field", () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    raw.Results[0].Vulnerabilities[0].Severity = 42;
    const err = thrown(() => decodeTrivyReport(raw));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.kind).toBe("invalid");
    expect(err.code).toBe("invalid_report");
    expect(err.errors).toEqual([expect.objectContaining({ path: "Results.0.Vulnerabilities.0.Severity" })]);
    expect(err.message).toContain("Results.0.Vulnerabilities.0.Severity");
  });

  it("reports every broken field, each with its path", () => {
    const raw = readFixtureJson("misconfigurations_and_secrets.json");
    delete raw.Results[0].Vulnerabilities[1].VulnerabilityID;
    raw.Results[2].Secrets[0].RuleID = 7;
    raw.Metadata.RepoDigests = "not-an-array";
    const err = thrown(() => decodeTrivyReport(raw));
    expect(err.errors.map((e: any) => e.path).sort()).toEqual(
      ["Metadata.RepoDigests", "Results.0.Vulnerabilities.1.VulnerabilityID", "Results.2.Secrets.0.RuleID"].sort(),
    );
  });

  it("refuses a suppressed vulnerability that does not have a vulnerability's shape, with its path", () => {
    const raw = withSuppressedFindings();
    raw.Results[0].ExperimentalModifiedFindings[0].Finding.Severity = 42;
    const err = thrown(() => decodeTrivyReport(raw));
    expect(err.code).toBe("invalid_report");
    expect(err.errors[0].path).toMatch(/^Results\.0\.ExperimentalModifiedFindings\.0/);
  });

  it("refuses a misconfiguration with neither ID nor AVDID", () => {
    const raw = readFixtureJson("misconfigurations_and_secrets.json");
    delete raw.Results[1].Misconfigurations[0].ID;
    const err = thrown(() => decodeTrivyReport(raw));
    expect(err.errors[0].path).toBe("Results.1.Misconfigurations.0");
  });
});

describe("Trivy JSON decoder: the shape checked by hand and the schema agree", () => {
  type Json = any;
  /** Every path to a value inside `doc` (objects and arrays), the root excluded. */
  function paths(doc: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
    if (doc === null || typeof doc !== "object") return out;
    for (const key of Array.isArray(doc) ? doc.map((_: unknown, i: number) => i) : Object.keys(doc)) {
      out.push([...prefix, key]);
      paths(doc[key], [...prefix, key], out);
    }
    return out;
  }
  function mutate(doc: Json, path: (string | number)[], value: unknown, remove: boolean): void {
    let node = doc;
    for (const key of path.slice(0, -1)) node = node[key];
    const last = path[path.length - 1]!;
    if (remove && !Array.isArray(node)) delete node[last];
    else node[last] = value;
  }
  const outcome = (json: unknown, byHand: boolean) => {
    try {
      return { decoded: decodeTrivyReport(json, byHand) };
    } catch (error) {
      const e = error as DomainError;
      return { code: e.code, message: e.message, errors: e.errors };
    }
  };
  // Small fixtures with vulnerabilities, secrets and misconfigurations (fast-check runs each many times).
  const bases = [...["alpine-310.json.golden", "misconfigurations_and_secrets.json"].map((name) => readFixtureJson(name)), withSuppressedFindings()];
  // Values a field may hold in a hostile or hand-edited report, as JSON.parse would give them.
  const values = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, "", " ", "HIGH", 2, 0, 9.8, -1, [], {}, "__proto__", { V3Score: "9" }, { V3Score: 7.5 }));

  it("when fields of real reports are replaced, removed or added, then both give the same report or the same problem", () => {
    fc.assert(
      fc.property(
        fc.nat(bases.length - 1),
        fc.array(fc.record({ at: fc.nat(), value: values, remove: fc.boolean(), addKey: fc.option(fc.constantFrom("Title", "CVSS", "PURL", "Extra", "V2Score", "ID", "AVDID", "RuleID", "__proto__"), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
        (which, mutations) => {
          const doc = structuredClone(bases[which]);
          for (const m of mutations) {
            const all = paths(doc);
            if (all.length === 0) break;
            const path = all[m.at % all.length]!;
            if (m.addKey) {
              let node = doc;
              for (const key of path) node = node[key];
              if (node !== null && typeof node === "object" && !Array.isArray(node)) Object.defineProperty(node, m.addKey, { value: m.value, enumerable: true, writable: true, configurable: true });
              continue;
            }
            mutate(doc, path, m.value, m.remove);
          }
          expect(outcome(doc, true)).toEqual(outcome(doc, false));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("when a CVSS source is named __proto__ (JSON.parse keeps it as a key, a copy does not), then both give what the schema gives", () => {
    const doc = JSON.parse('{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","CVSS":{"__proto__":{"V3Score":9.1}}}]}]}');
    expect(outcome(doc, true)).toEqual(outcome(doc, false));
  });

  it("when a real report is decoded, then the hand check accepts it (the fast path is the one taken)", () => {
    for (const name of TRIVY_FIXTURES) expect(isTrivyReportShape(readFixtureJson(name))).toBe(true);
    expect(isTrivyReportShape(withSuppressedFindings())).toBe(true);
  });
});
