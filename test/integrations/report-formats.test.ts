import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { countTrivyJson, fakeDigest } from "../support/trivy-counts";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

const upload = (name: string, query: string) =>
  app.http
    .post(`/v1/reports${query}`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture(name).toString("utf8"));

type Summary = Record<"critical" | "high" | "medium" | "low" | "unknown" | "fixable" | "secrets" | "misconfigurations", number>;
const zero = (): Summary => ({ critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, secrets: 0, misconfigurations: 0 });
const KEY: Record<string, keyof Summary> = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "low", INFO: "low" };
const ORDER = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/**
 * Severity counts from the raw BOM, restating the documented CycloneDX rule: the rating of the vulnerability's own
 * source (not its CVSSv2 one when it has another), else NVD's, else the highest; one finding per affects[] entry.
 */
function countRawBom(bom: any): Summary {
  const s = zero();
  for (const v of bom.vulnerabilities) {
    const of = (source: string) => {
      const own = v.ratings.filter((r: any) => r.source?.name === source);
      return (own.find((r: any) => r.method !== "CVSSv2") ?? own[0])?.severity?.toUpperCase() ?? null;
    };
    const highest = v.ratings.map((r: any) => String(r.severity).toUpperCase()).sort((a: string, b: string) => ORDER.indexOf(b) - ORDER.indexOf(a))[0];
    s[KEY[of(v.source?.name) ?? of("nvd") ?? highest ?? "UNKNOWN"] ?? "unknown"] += v.affects.length;
  }
  return s;
}

test("when the SARIF and the JSON of one scan (alpine-310) are uploaded, then both give the raw JSON's summary", async () => {
  const sarif = await upload("alpine-310.sarif.golden", `?digest=${fakeDigest("alpine-sarif")}`);
  const json = await upload("alpine-310.json.golden", `?digest=${fakeDigest("alpine-json")}`);
  expect(sarif.status).toBe(201);
  expect(json.status).toBe(201);
  expect(sarif.body.format).toBe("sarif");
  expect(sarif.body.summary).toEqual(countTrivyJson(readFixtureJson("alpine-310.json.golden")));
  expect(sarif.body.summary).toEqual(json.body.summary);
  expect(sarif.body.images[0].is_compliant).toBe(json.body.images[0].is_compliant);
});

test("when the CycloneDX golden is uploaded, then its severity counts are the raw BOM's", async () => {
  const res = await upload("fluentd-multiple-lockfiles-short.cdx.json.golden", `?digest=${fakeDigest("cdx")}`);
  expect(res.status).toBe(201);
  expect(res.body.format).toBe("cyclonedx");
  const { fixable: _fixable, ...counts } = res.body.summary;
  const { fixable: _raw, ...expected } = countRawBom(readFixtureJson("fluentd-multiple-lockfiles-short.cdx.json.golden"));
  expect(counts).toEqual(expected);
});

test("when the operator fixture (no digest) is uploaded to /v1/reports with ?digest=, then it is stored with the resource's counts", async () => {
  const raw = readFixtureJson("vulnerabilityreport_many.json");
  const expected = zero();
  for (const v of raw.report.vulnerabilities) {
    expected[KEY[String(v.severity).toUpperCase()] ?? "unknown"] += 1;
    if (v.fixedVersion) expected.fixable += 1;
  }
  const digest = fakeDigest("operator-upload");
  const res = await upload("vulnerabilityreport_many.json", `?digest=${digest}`);
  expect(res.status).toBe(201);
  expect(res.body.format).toBe("trivy-operator");
  expect(res.body.summary).toEqual(expected);
  expect(res.body.images[0]).toMatchObject({ image_digest: digest, repository: "docker.io/library/nginx", tags: ["alpine"] });
});

test("when the operator fixture is uploaded without a digest, then 422 missing_digest and nothing is written", async () => {
  const before = await app.database.rowCounts();
  const body = JSON.stringify({ ...readFixtureJson("vulnerabilityreport_many.json"), metadata: { name: "other" } });
  const res = await app.http.post("/v1/reports").set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body);
  expect(res.status).toBe(422);
  expect(res.body.code).toBe("missing_digest");
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when the same fixture goes to the operator webhook without a digest, then it is refused and nothing is written", async () => {
  const before = await app.database.rowCounts();
  const res = await app.http
    .post("/v1/integrations/trivy-operator")
    .set({ Authorization: `Bearer ${app.adminToken}` })
    .send(readFixtureJson("vulnerabilityreport_many.json"));
  expect(res.status).toBe(422);
  expect(res.body.code).toBe("missing_digest");
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when ECR findings are uploaded as a report, then 415 points to the import endpoint", async () => {
  const res = await app.http
    .post("/v1/reports?format=ecr")
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send({ repositoryName: "x", imageScanFindings: {} });
  expect(res.status).toBe(415);
  expect(res.body.detail).toMatch(/\/v1\/integrations\/ecr\/import/);
});
