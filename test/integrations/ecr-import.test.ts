import { basicFinding, enhancedFinding, type FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { HOST, MAX_ATTEMPTS, REGISTRY_ID, expectedSummary, startFakeEcr } from "./ecr-support";

let fake: FakeEcr;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeEcr();
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
const importImage = (body: Record<string, unknown>) => app.http.post("/v1/integrations/ecr/import").set(auth()).send(body);

const SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];

describe("when basic-scanning findings span several pages", () => {
  const findings = Array.from({ length: 250 }, (_, n) => basicFinding(n, SEVERITIES[n % SEVERITIES.length]!));
  let digest: string;
  beforeAll(() => {
    fake.findingsPageSize = 100;
    digest = fake.addImage("team/paged", { seed: "paged", tags: ["v1"], findings }).digest;
  });

  test("then every page is read and every finding counted, INFORMATIONAL as low and UNDEFINED as unknown", async () => {
    const before = fake.callsOf("DescribeImageScanFindings").length;
    const res = await importImage({ repository: "team/paged", image_digest: digest });
    expect(res.status).toBe(201);
    expect(fake.callsOf("DescribeImageScanFindings").length - before).toBe(3);
    expect(res.body.format).toBe("ecr");
    expect(res.body.ecr_scan_status).toBe("COMPLETE");
    expect(res.body.summary).toEqual(expectedSummary(findings));
    expect(res.body.summary.low).toBe(findings.filter((f) => ["LOW", "INFORMATIONAL"].includes(f.severity as string)).length);
    expect(res.body.images).toEqual([
      expect.objectContaining({ image_digest: digest, repository: `${HOST}/team/paged`, tags: ["v1"], is_compliant: false, status: "non_compliant" }),
    ]);
    const { rows } = await app.service.deps.pool.query(
      "SELECT r.format, r.scanned_at, r.scanner, count(f.id)::int AS n FROM scan_reports r JOIN findings f ON f.report_id = r.id WHERE r.id = $1 GROUP BY r.id",
      [res.body.report_id],
    );
    expect(rows[0]).toMatchObject({ format: "ecr", scanner: "Amazon ECR", n: 250 });
    expect(rows[0].scanned_at.toISOString()).toBe("2026-11-01T10:05:00.000Z");
  });

  test("then importing the same findings again, by tag this time, is a duplicate that writes nothing", async () => {
    const before = await app.database.rowCounts();
    const res = await importImage({ repository: "team/paged", image_tag: "v1", registry_id: REGISTRY_ID });
    expect(res.status).toBe(200);
    expect(res.body.duplicate).toBe(true);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then the stored raw report is the merged pages, with every finding and no nextToken", async () => {
    const res = await importImage({ repository: "team/paged", image_digest: digest });
    const raw = await app.http.get(`/v1/reports/${res.body.report_id}/raw`).set(auth());
    const doc = JSON.parse(raw.text);
    expect(doc.imageScanFindings.findings).toHaveLength(250);
    expect(doc.nextToken).toBeUndefined();
    expect(doc.imageId).toEqual({ imageDigest: digest });
  });
});

describe("when the registry uses enhanced scanning (Amazon Inspector)", () => {
  const enhanced = [
    enhancedFinding("CVE-2026-0001", "CRITICAL", [
      { name: "openssl", version: "3.0.2", release: "0ubuntu1.10", fixedInVersion: "3.0.2-0ubuntu1.12" },
      { name: "libssl3", version: "3.0.2", release: "0ubuntu1.10", epoch: 1, fixedInVersion: "NotAvailable" },
    ]),
    enhancedFinding("CVE-2026-0002", "HIGH", [{ name: "lodash", version: "4.17.20", fixedInVersion: "4.17.21", packageManager: "NPM" }]),
    enhancedFinding("CVE-2026-0003", "INFORMATIONAL", [{ name: "bash", version: "5.1" }]),
    enhancedFinding("CVE-2026-0004", "UNTRIAGED", [{ name: "zlib", version: "1.2.11" }]),
    enhancedFinding("CVE-2026-0005", "MEDIUM", [{ name: "curl", version: "7.81.0" }], { status: "SUPPRESSED" }),
    enhancedFinding("CVE-2026-0006", "CRITICAL", [{ name: "gone", version: "1.0" }], { status: "CLOSED" }),
  ];
  let digest: string;
  beforeAll(() => {
    digest = fake.addImage("team/inspected", { seed: "inspected", tags: ["prod"], enhancedFindings: enhanced, scanStatus: { status: "ACTIVE", description: "Continuous scan is selected for image." } }).digest;
  });

  test("then one finding per vulnerable package is stored, CLOSED dropped, SUPPRESSED kept and counted", async () => {
    const res = await importImage({ repository: "team/inspected", image_tag: "prod" });
    expect(res.status).toBe(201);
    expect(res.body.ecr_scan_status).toBe("ACTIVE");
    expect(res.body.summary).toEqual(expectedSummary(enhanced, true));
    expect(res.body.summary).toMatchObject({ critical: 2, high: 1, medium: 1, low: 1, unknown: 1, fixable: 2 });
    const { rows } = await app.service.deps.pool.query(
      `SELECT vulnerability_id, pkg_name, installed_version, fixed_version, status, severity, class, pkg_type
       FROM findings WHERE report_id = $1 ORDER BY vulnerability_id, pkg_name`,
      [res.body.report_id],
    );
    expect(rows).toEqual([
      { vulnerability_id: "CVE-2026-0001", pkg_name: "libssl3", installed_version: "1:3.0.2-0ubuntu1.10", fixed_version: null, status: "affected", severity: "CRITICAL", class: "os-pkgs", pkg_type: "os" },
      { vulnerability_id: "CVE-2026-0001", pkg_name: "openssl", installed_version: "3.0.2-0ubuntu1.10", fixed_version: "3.0.2-0ubuntu1.12", status: "fixed", severity: "CRITICAL", class: "os-pkgs", pkg_type: "os" },
      { vulnerability_id: "CVE-2026-0002", pkg_name: "lodash", installed_version: "4.17.20", fixed_version: "4.17.21", status: "fixed", severity: "HIGH", class: "lang-pkgs", pkg_type: "npm" },
      { vulnerability_id: "CVE-2026-0003", pkg_name: "bash", installed_version: "5.1", fixed_version: null, status: "affected", severity: "LOW", class: "os-pkgs", pkg_type: "os" },
      { vulnerability_id: "CVE-2026-0004", pkg_name: "zlib", installed_version: "1.2.11", fixed_version: null, status: "affected", severity: "UNKNOWN", class: "os-pkgs", pkg_type: "os" },
      { vulnerability_id: "CVE-2026-0005", pkg_name: "curl", installed_version: "7.81.0", fixed_version: null, status: "suppressed", severity: "MEDIUM", class: "os-pkgs", pkg_type: "os" },
    ]);
    const vuln = await app.service.deps.pool.query("SELECT title, cvss_score::float AS cvss, primary_url FROM vulnerabilities WHERE id = 'CVE-2026-0001'");
    expect(vuln.rows[0]).toEqual({ title: "CVE-2026-0001 - openssl, libssl3", cvss: 9.8, primary_url: "https://nvd.nist.gov/vuln/detail/CVE-2026-0001" });
    expect(res.body.images[0]).toMatchObject({ image_digest: digest, tags: ["prod"], is_compliant: false });
  });
});

describe("when ECR cannot give the findings", () => {
  let digest: string;
  beforeAll(() => {
    digest = fake.addImage("team/flaky", { seed: "flaky", findings: [basicFinding(1, "LOW")] }).digest;
  });

  test("when ECR throttles fewer times than the SDK retries, then the import succeeds", async () => {
    const before = fake.callsOf("DescribeImageScanFindings").length;
    fake.failNext("DescribeImageScanFindings", MAX_ATTEMPTS - 1, "ThrottlingException", "Rate exceeded");
    const res = await importImage({ repository: "team/flaky", image_digest: digest });
    expect(res.status).toBe(201);
    expect(fake.callsOf("DescribeImageScanFindings").length - before).toBe(MAX_ATTEMPTS);
  });

  test("when ECR keeps throttling after the SDK's retries, then 503 ecr_throttled and nothing is written", async () => {
    const other = fake.addImage("team/flaky", { seed: "flaky-2", findings: [basicFinding(2, "LOW")] }).digest;
    const before = await app.database.rowCounts();
    fake.failNext("DescribeImageScanFindings", MAX_ATTEMPTS, "ThrottlingException", "Rate exceeded");
    const res = await importImage({ repository: "team/flaky", image_digest: other });
    expect(res.status).toBe(503);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe("ecr_throttled");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a later page is not JSON, then 502 ecr_bad_response and nothing is written", async () => {
    const image = fake.addImage("team/broken", { seed: "broken-1", findings: Array.from({ length: 150 }, (_, n) => basicFinding(n, "HIGH")) });
    fake.findingsPageSize = 100;
    const before = await app.database.rowCounts();
    const first = fake.callsOf("DescribeImageScanFindings").length;
    fake.passNext("DescribeImageScanFindings");
    fake.answerNext("DescribeImageScanFindings", '{"imageScanFindings": {"findings": [', 200);
    const res = await importImage({ repository: "team/broken", image_digest: image.digest });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("ecr_bad_response");
    expect(fake.callsOf("DescribeImageScanFindings").length - first).toBeGreaterThanOrEqual(2);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a finding lacks its name, then 502 ecr_bad_response naming the path and nothing is written", async () => {
    const image = fake.addImage("team/broken", { seed: "broken-2", findings: [] });
    const page = {
      registryId: REGISTRY_ID,
      repositoryName: "team/broken",
      imageId: { imageDigest: image.digest },
      imageScanStatus: { status: "COMPLETE" },
      imageScanFindings: { imageScanCompletedAt: 1761991500, findings: [basicFinding(1, "HIGH"), { severity: "CRITICAL", attributes: [] }] },
    };
    fake.answerNext("DescribeImageScanFindings", JSON.stringify(page));
    const before = await app.database.rowCounts();
    const res = await importImage({ repository: "team/broken", image_digest: image.digest });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("ecr_bad_response");
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: "imageScanFindings.findings.1.name" })]));
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test.each([
    ["IN_PROGRESS", "Scan is in progress"],
    ["PENDING", "Scan pending"],
    ["FAILED", "UnsupportedImageError: The operating system and/or package manager are not supported."],
  ])("when the scan is %s, then 409 with ECR's status and description, nothing written", async (status, description) => {
    const image = fake.addImage("team/unfinished", { seed: `unfinished-${status}`, scanStatus: { status, description } });
    const before = await app.database.rowCounts();
    const res = await importImage({ repository: "team/unfinished", image_digest: image.digest });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "ecr_scan_not_complete", ecr_status: status, ecr_status_description: description });
    expect(res.body.detail).toContain(description);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when the repository, image or scan does not exist, then 404 with ECR's error as the code", async () => {
    const unscanned = fake.addImage("team/unscanned", { seed: "unscanned", scanStatus: { status: "NONE" } });
    const before = await app.database.rowCounts();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ repository: "team/nope", image_tag: "v1" }, "ecr_repository_not_found"],
      [{ repository: "team/unscanned", image_tag: "missing" }, "ecr_image_not_found"],
      [{ repository: "team/unscanned", image_digest: unscanned.digest }, "ecr_scan_not_found"],
    ];
    for (const [body, code] of cases) {
      const res = await importImage(body);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe(code);
      expect(res.body.detail).toMatch(/Exception/);
    }
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when the request names neither or both of digest and tag, then 422 with the path", async () => {
    for (const body of [{ repository: "team/flaky" }, { repository: "team/flaky", image_tag: "a", image_digest: digest }, { repository: "Bad Name", image_tag: "x" }]) {
      const res = await importImage(body);
      expect(res.status).toBe(422);
      expect(res.body.errors[0].path).toMatch(/^body\./);
    }
  });

  test("when the token lacks reports:write, then 403", async () => {
    const reader = await app.token("compliance:read");
    const res = await app.http.post("/v1/integrations/ecr/import").set({ Authorization: `Bearer ${reader}` }).send({ repository: "team/flaky", image_digest: digest });
    expect(res.status).toBe(403);
  });
});
