import { DomainError } from "../../../src/domain/errors";
import { decodeReport } from "../../../src/formats";
import { fixtureNames, readFixtureJson } from "../../support/fixtures";
import { thrown } from "./helpers";

describe("decodeReport", () => {
  it.each(fixtureNames())("%s decodes with its format detected", (name) => {
    const report = decodeReport(readFixtureJson(name));
    expect(["trivy", "sarif", "cyclonedx", "trivy-operator"]).toContain(report.format);
    expect(Array.isArray(report.findings)).toBe(true);
  });

  it("accepts an explicit format that matches the document", () => {
    expect(decodeReport(readFixtureJson("alpine-310.json.golden"), { format: "trivy" }).format).toBe("trivy");
    expect(decodeReport(readFixtureJson("alpine-310.sarif.golden"), { format: "sarif" }).format).toBe("sarif");
  });

  it("refuses an explicit format that contradicts the document with format_mismatch (422)", () => {
    const err = thrown(() => decodeReport(readFixtureJson("alpine-310.sarif.golden"), { format: "trivy" }));
    expect(err).toBeInstanceOf(DomainError);
    expect(err.kind).toBe("invalid");
    expect(err.code).toBe("format_mismatch");
    expect(err.message).toContain("format=trivy");
    expect(err.message).toContain("SARIF");
  });

  it("keeps a specific refusal even when a format was given", () => {
    const v1 = readFixtureJson("alpine-310.json.golden").Results;
    expect(thrown(() => decodeReport(v1, { format: "trivy" })).code).toBe("trivy_schema_v1");
  });

  it("decodes an unrecognisable document as the explicit format, giving shape errors with paths", () => {
    const err = thrown(() => decodeReport({ Results: [] }, { format: "trivy" }));
    expect(err.code).toBe("invalid_report");
    expect(err.errors.map((e: any) => e.path)).toContain("SchemaVersion");
  });

  it("refuses format=ecr: ECR findings come through the ECR import endpoint", () => {
    const err = thrown(() => decodeReport(readFixtureJson("alpine-310.json.golden"), { format: "ecr" }));
    expect(err.kind).toBe("unsupported");
    expect(err.message).toMatch(/ecr\/import/);
    const ecr = { repositoryName: "app", imageId: {}, imageScanFindings: { findings: [] } };
    expect(thrown(() => decodeReport(ecr)).kind).toBe("unsupported");
  });

  it("passes refusals of undecodable documents through", () => {
    expect(thrown(() => decodeReport({ nothing: true })).code).toBe("unknown_format");
  });
});
