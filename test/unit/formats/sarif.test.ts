import { DomainError } from "../../../src/domain/errors";
import { decodeSarifReport } from "../../../src/formats/sarif";
import { decodeTrivyReport } from "../../../src/formats/trivy";
import { fixtureNames, readFixtureJson } from "../../support/fixtures";
import { countDecoded, countRawTrivy, thrown } from "./helpers";

/**
 * What Trivy's SARIF writer (pkg/report/sarif.go) makes of a Trivy JSON report: one rule per ID (the first
 * occurrence's severity), tags [kind, "security", SEVERITY], security-severity, level, and the message texts.
 * Used to check the decoder against every JSON fixture, not only the one SARIF golden file.
 */
function trivySarifOf(report: any): any {
  const rules: any[] = [];
  const results: any[] = [];
  const index = new Map<string, number>();
  const score: Record<string, string> = { CRITICAL: "9.5", HIGH: "8.0", MEDIUM: "5.5", LOW: "2.0" };
  const level: Record<string, string> = { CRITICAL: "error", HIGH: "error", MEDIUM: "warning", LOW: "note", UNKNOWN: "note" };
  const add = (id: string, title: string, name: string, severity: string, message: string, uri: string) => {
    if (!index.has(id)) {
      index.set(id, rules.length);
      rules.push({ id, name, properties: { tags: [title, "security", severity], "security-severity": score[severity] ?? "0.0" } });
    }
    results.push({
      ruleId: id,
      ruleIndex: index.get(id),
      level: level[severity] ?? "none",
      message: { text: message },
      locations: [{ physicalLocation: { artifactLocation: { uri, uriBaseId: "ROOTPATH" } } }],
    });
  };
  for (const res of report.Results ?? []) {
    const name = { "os-pkgs": "OsPackageVulnerability", "lang-pkgs": "LanguageSpecificPackageVulnerability" }[res.Class as string] ?? "UnknownIssue";
    for (const v of res.Vulnerabilities ?? []) {
      const msg = `Package: ${v.PkgName}\nInstalled Version: ${v.InstalledVersion}\nVulnerability ${v.VulnerabilityID}\nSeverity: ${v.Severity}\nFixed Version: ${v.FixedVersion ?? ""}\nLink: [${v.VulnerabilityID}](${v.PrimaryURL ?? ""})`;
      add(v.VulnerabilityID, "vulnerability", name, v.Severity, msg, res.Target);
    }
    for (const m of res.Misconfigurations ?? []) {
      const msg = `Artifact: ${res.Target}\nType: ${res.Type}\nVulnerability ${m.ID}\nSeverity: ${m.Severity}\nMessage: ${m.Message}\nLink: [${m.ID}](${m.PrimaryURL})`;
      add(m.ID, "misconfiguration", "Misconfiguration", m.Severity, msg, res.Target);
    }
    for (const s of res.Secrets ?? []) {
      const msg = `Artifact: ${res.Target}\nType: ${res.Type ?? ""}\nSecret ${s.Title}\nSeverity: ${s.Severity}\nMatch: ${s.Match}`;
      add(s.RuleID, "secret", "Secret", s.Severity, msg, res.Target);
    }
  }
  const run: any = { tool: { driver: { name: "Trivy", fullName: "Trivy Vulnerability Scanner", rules } }, results };
  if (report.ArtifactType === "container_image") {
    run.properties = {
      imageName: report.ArtifactName,
      repoTags: report.Metadata?.RepoTags ?? null,
      repoDigests: report.Metadata?.RepoDigests ?? null,
      imageID: report.Metadata?.ImageID,
    };
  }
  return { version: "2.1.0", $schema: "https://json.schemastore.org/sarif-2.1.0.json", runs: [run] };
}

describe("SARIF decoder: the real golden file", () => {
  const sarif = () => readFixtureJson("alpine-310.sarif.golden");

  it("gives the same counts by severity and kind as the JSON report of the same scan", () => {
    const fromSarif = decodeSarifReport(sarif());
    const json = readFixtureJson("alpine-310.json.golden");
    expect(countDecoded(fromSarif)).toEqual(countRawTrivy(json));
    expect(countDecoded(fromSarif)).toEqual(countDecoded(decodeTrivyReport(json)));
  });

  it("gives the same vulnerability/package/version triples as the JSON report", () => {
    const triple = (f: any) => [f.vulnerabilityId, f.pkgName, f.installedVersion, f.fixedVersion, f.severity].join("|");
    const fromJson = decodeTrivyReport(readFixtureJson("alpine-310.json.golden")).findings.map(triple).sort();
    expect(decodeSarifReport(sarif()).findings.map(triple).sort()).toEqual(fromJson);
  });

  it("takes image identity from runs[0].properties", () => {
    const raw = sarif();
    const r = decodeSarifReport(raw);
    const props = raw.runs[0].properties;
    expect(r).toMatchObject({
      format: "sarif",
      scanner: "trivy",
      artifactName: props.imageName,
      configDigest: props.imageID,
      repoTags: props.repoTags,
      repoDigests: [],
      artifactType: "container_image",
      scannedAt: null,
    });
    raw.runs[0].properties.repoDigests = ["ghcr.io/aquasecurity/trivy-test-images@sha256:" + "a".repeat(64)];
    expect(decodeSarifReport(raw).repoDigests).toEqual(raw.runs[0].properties.repoDigests);
  });

  it("keeps rule metadata: title, description, CVSS v3 score and help URI", () => {
    const raw = sarif();
    const rule = raw.runs[0].tool.driver.rules[0];
    const info = decodeSarifReport(raw).vulnerabilities.find((v) => v.id === rule.id)!;
    expect(info).toMatchObject({
      title: rule.shortDescription.text,
      description: rule.fullDescription.text,
      cvssScore: rule.properties.cvssv3_baseScore,
      primaryUrl: rule.helpUri,
      severity: "MEDIUM",
    });
  });

  it("takes the target from the location's artifact URI", () => {
    const raw = sarif();
    const uri = raw.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri;
    expect(decodeSarifReport(raw).findings[0]!.target).toBe(uri);
  });
});

describe("SARIF decoder: Trivy's SARIF of every JSON fixture", () => {
  const names = fixtureNames().filter((n) => readFixtureJson(n).SchemaVersion === 2);
  it.each(names)("%s: counts equal the JSON report's (incl. secrets and misconfigurations)", (name) => {
    const json = readFixtureJson(name);
    expect(countDecoded(decodeSarifReport(trivySarifOf(json)))).toEqual(countRawTrivy(json));
  });

  it("maps secrets and misconfigurations to their kinds with Trivy's IDs", () => {
    const r = decodeSarifReport(trivySarifOf(readFixtureJson("misconfigurations_and_secrets.json")));
    expect(r.findings.filter((f) => f.kind === "secret").map((f) => f.vulnerabilityId)).toEqual(["github-pat", "github-pat"]);
    expect(r.findings.find((f) => f.kind === "misconfiguration")).toMatchObject({
      vulnerabilityId: "DS002",
      severity: "HIGH",
      target: "Dockerfile",
      pkgName: null,
    });
    expect(r.artifactType).toBeNull(); // a filesystem scan: Trivy writes no image properties
  });

  it("uses each result's own severity when results share a rule", () => {
    const json = readFixtureJson("alpine-310.json.golden");
    json.Results[0].Vulnerabilities[2].Severity = "CRITICAL"; // same CVE as [0], other package
    const r = decodeSarifReport(trivySarifOf(json));
    expect(countDecoded(r)).toEqual(countRawTrivy(json));
  });
});

describe("SARIF decoder: severity fallbacks", () => {
  const stripMessageSeverity = (raw: any) => {
    for (const res of raw.runs[0].results) res.message.text = res.message.text.replace(/\nSeverity: \w+/, "");
    return raw;
  };

  it("falls back to the rule's tags when the message has no Severity line", () => {
    const raw = stripMessageSeverity(readFixtureJson("alpine-310.sarif.golden"));
    expect(decodeSarifReport(raw).findings.every((f) => f.severity === "MEDIUM")).toBe(true);
  });

  it("then to security-severity (≥9 CRITICAL, ≥7 HIGH, ≥4 MEDIUM, >0 LOW)", () => {
    const raw = stripMessageSeverity(readFixtureJson("alpine-310.sarif.golden"));
    const rules = raw.runs[0].tool.driver.rules;
    rules[0].properties.tags = ["vulnerability", "security"];
    rules[0].properties["security-severity"] = "9.1";
    rules[1].properties.tags = ["vulnerability", "security"];
    rules[1].properties["security-severity"] = 3.9;
    const severities = decodeSarifReport(raw).findings.map((f) => [f.vulnerabilityId, f.severity]);
    expect(severities).toContainEqual(["CVE-2019-1549", "CRITICAL"]);
    expect(severities).toContainEqual(["CVE-2019-1551", "LOW"]);
  });

  it("then to the SARIF level: error → HIGH, warning → MEDIUM, note → LOW, none → UNKNOWN", () => {
    const raw = stripMessageSeverity(readFixtureJson("alpine-310.sarif.golden"));
    for (const rule of raw.runs[0].tool.driver.rules) {
      rule.properties.tags = ["vulnerability"];
      delete rule.properties["security-severity"];
    }
    const levels = ["error", "warning", "note", "none"];
    raw.runs[0].results.forEach((res: any, i: number) => (res.level = levels[i]));
    expect(decodeSarifReport(raw).findings.map((f) => f.severity)).toEqual(["HIGH", "MEDIUM", "LOW", "UNKNOWN"]);
  });

  it("reads the old contrib/sarif.tpl rule IDs of the form \"[HIGH] CVE-…\"", () => {
    const raw = stripMessageSeverity(readFixtureJson("alpine-310.sarif.golden"));
    const rule = raw.runs[0].tool.driver.rules[0];
    rule.id = `[HIGH] ${rule.id}`;
    rule.properties.tags = ["vulnerability"];
    for (const res of raw.runs[0].results) if (res.ruleIndex === 0) res.ruleId = rule.id;
    const f = decodeSarifReport(raw).findings[0]!;
    expect([f.vulnerabilityId, f.severity]).toEqual(["CVE-2019-1549", "HIGH"]);
  });
  // The shape of the old template's output (Trivy's integration golden docker_engine/alpine-310.sarif): a rule per
  // result, the package lines in the rule's help text, the message the description only, every level "error".
  it("reads package, versions and severity of the old contrib/sarif.tpl from the rule's help text", () => {
    const rule = (severity: string, id: string, pkg: string, installed: string, fixed: string) => ({
      id: `[${severity}] ${id}`,
      name: "dockerfile_scan",
      shortDescription: { text: `${id} Package: ${pkg}` },
      fullDescription: { text: "openssl: information disclosure in fork()." },
      help: { text: `Vulnerability ${id}\nSeverity: ${severity}\nPackage: ${pkg}\nInstalled Version: ${installed}\nFixed Version: ${fixed}\nLink: [${id}](https://nvd.nist.gov/vuln/detail/${id.toLowerCase()})` },
      properties: { tags: ["vulnerability", severity, pkg], precision: "very-high" },
    });
    const rules = [rule("MEDIUM", "CVE-2019-1549", "openssl", "1.1.1c-r0", "1.1.1d-r0"), rule("LOW", "CVE-2019-1547", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r0")];
    const raw = {
      $schema: "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json",
      version: "2.1.0",
      runs: [
        {
          tool: { driver: { name: "Trivy", fullName: "Trivy Vulnerability Scanner", rules } },
          results: rules.map((r, i) => ({
            ruleId: r.id,
            ruleIndex: i,
            level: "error",
            message: { text: "OpenSSL 1.1.1 introduced a rewritten random number generator (RNG)." },
            locations: [{ physicalLocation: { artifactLocation: { uri: "alpine:3.10" }, region: { startLine: 1 } } }],
          })),
          columnKind: "utf16CodeUnits",
        },
      ],
    };
    const found = decodeSarifReport(raw).findings.map((f) => [f.vulnerabilityId, f.pkgName, f.installedVersion, f.fixedVersion, f.severity, f.target]);
    expect(found).toEqual([
      ["CVE-2019-1549", "openssl", "1.1.1c-r0", "1.1.1d-r0", "MEDIUM", "alpine:3.10"],
      ["CVE-2019-1547", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r0", "LOW", "alpine:3.10"],
    ]);
  });

  // Seen in a Trivy Premium SARIF committed in a public repository: ruleIndex values that point at other rules.
  it("takes the rule its ruleId names when the ruleIndex points at another rule", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    const rules = raw.runs[0].tool.driver.rules;
    const expected = decodeSarifReport(readFixtureJson("alpine-310.sarif.golden"));
    for (const res of raw.runs[0].results) res.ruleIndex = (res.ruleIndex + 1) % rules.length;
    expect(rules.length).toBeGreaterThan(1);
    expect(decodeSarifReport(raw)).toEqual(expected);
  });

  it("keeps a result message's own package lines over its rule's help text", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    const first = raw.runs[0].tool.driver.rules[0];
    first.help = { text: "Vulnerability X\nSeverity: CRITICAL\nPackage: not-this\nInstalled Version: 0\nFixed Version: 0" };
    const expected = decodeSarifReport(readFixtureJson("alpine-310.sarif.golden")).findings;
    expect(decodeSarifReport(raw).findings).toEqual(expected);
  });
});

describe("SARIF decoder: tolerance and refusals", () => {
  it("decodes with unknown fields added and optional ones removed", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    raw.runs[0].invocations = [{ executionSuccessful: true }];
    raw.runs[0].results[0].fingerprints = { x: "y" };
    delete raw.runs[0].columnKind;
    for (const rule of raw.runs[0].tool.driver.rules) delete rule.help;
    expect(decodeSarifReport(raw).findings).toHaveLength(4);
  });

  it("skips license results, which are not findings", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    raw.runs[0].tool.driver.rules.push({ id: "musl:MIT", name: "License", properties: { tags: ["license", "security", "LOW"] } });
    raw.runs[0].results.push({ ruleId: "musl:MIT", ruleIndex: 2, level: "note", message: { text: "Artifact: x\nLicense MIT" } });
    expect(decodeSarifReport(raw).findings).toHaveLength(4);
  });

  it("refuses SARIF written by another tool", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    raw.runs[0].tool.driver.name = "CodeQL";
    const err = thrown(() => decodeSarifReport(raw));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe("sarif_not_from_trivy");
  });

  it("reports shape errors with paths", () => {
    const raw = readFixtureJson("alpine-310.sarif.golden");
    raw.runs[0].results[1].message = "not an object";
    const err = thrown(() => decodeSarifReport(raw));
    expect(err.code).toBe("invalid_report");
    expect(err.errors[0].path).toBe("runs.0.results.1.message");
  });
});
