import type { PoolClient } from "pg";
import { readFixture } from "../support/fixtures";
import { postBytes, startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/**
 * Issue 17 item 2: ingest memory is bounded by design. A report over MAX_REPORT_FINDINGS is refused (413
 * too_many_findings) before it is validated or stored; uploads beyond the replica's ingest memory budget wait a
 * bounded time and are then refused with 503 ingest_busy and Retry-After. Either way nothing is written. (RSS numbers
 * belong to the bench, scenario ingest_50mb_rss: no timing or memory is asserted here.)
 */
const json = { "Content-Type": "application/json" };

describe("when a report holds more findings than MAX_REPORT_FINDINGS", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { MAX_REPORT_FINDINGS: "2" } });
  });
  afterAll(async () => app?.close());
  const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

  test.each([
    ["Trivy JSON", "juice-shop-v10.2.0.json", ""],
    ["CycloneDX", "fluentd-multiple-lockfiles-short.cdx.json.golden", `?digest=${fakeDigest("limits-cdx")}`],
    ["SARIF", "alpine-310.sarif.golden", `?digest=${fakeDigest("limits-sarif")}`],
    ["a Trivy Operator VulnerabilityReport list", "vulnerabilityreport_many.json", ""],
  ])("when it is %s, then 413 too_many_findings names the limit and the variable, and nothing is written", async (_what, fixture, query) => {
    const before = await app.database.rowCounts();
    const res = await postBytes(app.service.url, `/v1/reports${query}`, readFixture(fixture), { ...auth(), ...json });
    if (res.status !== 413) throw new Error(`expected 413, got ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: "too_many_findings", limit_findings: 2 });
    expect(res.body.findings).toBeGreaterThan(2);
    expect(res.body.detail).toContain("MAX_REPORT_FINDINGS");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a report is within the limit, then it is stored as usual", async () => {
    // alpine-310 with two of its four findings: exactly the limit.
    const alpine = JSON.parse(readFixture("alpine-310.json.golden").toString("utf8"));
    alpine.Results[0].Vulnerabilities = alpine.Results[0].Vulnerabilities.slice(0, 2);
    const res = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("limits-alpine")}`, Buffer.from(JSON.stringify(alpine)), { ...auth(), ...json });
    expect(res.status).toBe(201);
    expect(res.body.summary).toMatchObject({ medium: 2 });
  });
});

describe("when the ingest memory budget is in use", () => {
  let app: TestApp;
  beforeAll(async () => {
    // A budget smaller than any report: every upload is admitted alone, the next one waits 300 ms at most.
    app = await startTestApp({ env: { INGEST_MEMORY_BUDGET_BYTES: "1kb", INGEST_ADMISSION_WAIT_MS: "300" } });
  });
  afterAll(async () => app?.close());
  const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

  test("then a further upload gets 503 ingest_busy with Retry-After and writes nothing; the admitted one completes", async () => {
    // The first upload is admitted, then held inside its transaction: its findings COPY waits for this lock.
    const locker: PoolClient = await app.database.db.pool.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE findings IN SHARE MODE");
    const first = postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("budget-first")}`, readFixture("alpine-310.json.golden"), { ...auth(), ...json });
    try {
      for (let i = 0; i < 400 && app.service.deps.ingestAdmission.used === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(app.service.deps.ingestAdmission.used).toBeGreaterThan(0);
      const before = await app.database.rowCounts();
      const second = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("budget-second")}`, readFixture("centos-7.json.golden"), { ...auth(), ...json });
      expect(second.status).toBe(503);
      expect(second.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect(second.headers.get("retry-after")).toBe("5");
      expect(second.body).toMatchObject({ code: "ingest_busy", retry_after_seconds: 5 });
      expect(second.body.detail).toContain("INGEST_MEMORY_BUDGET_BYTES");
      expect(await app.database.rowCounts()).toEqual(before);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    expect((await first).status).toBe(201);
    expect(app.service.deps.ingestAdmission.used).toBe(0);
    // With the budget free again, the refused upload is accepted.
    const again = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("budget-second")}`, readFixture("centos-7.json.golden"), { ...auth(), ...json });
    expect(again.status).toBe(201);
  });
});

describe("when a report is large enough to be parsed incrementally (8 MiB or more)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());
  const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

  test("then it is stored with the same findings as JSON.parse reads, and a broken one is 400 invalid_json writing nothing", async () => {
    const juice = JSON.parse(readFixture("juice-shop-v10.2.0.json").toString("utf8"));
    const small = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("large-reference")}`, Buffer.from(JSON.stringify(juice)), { ...auth(), ...json });
    expect(small.status).toBe(201);
    // The same findings, repeated until the body passes 8 MiB (findings may repeat: each is stored as sent).
    const copies = 60;
    for (const result of juice.Results) if (result.Vulnerabilities) result.Vulnerabilities = Array.from({ length: copies }, () => result.Vulnerabilities).flat();
    juice.ArtifactName = "registry.example.com/large/juice:1";
    const body = Buffer.from(JSON.stringify(juice));
    expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
    const large = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("large")}`, body, { ...auth(), ...json });
    expect(large.status).toBe(201);
    for (const severity of ["critical", "high", "medium", "low", "unknown", "fixable"] as const) {
      expect(large.body.summary[severity]).toBe(small.body.summary[severity] * copies);
    }

    const before = await app.database.rowCounts();
    const broken = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("large-broken")}`, body.subarray(0, body.length - 3), { ...auth(), ...json });
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe("invalid_json");
    expect(await app.database.rowCounts()).toEqual(before);
  });
});

describe("when a body certainly holds more findings than MAX_REPORT_FINDINGS", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { MAX_REPORT_FINDINGS: "1000" } });
  });
  afterAll(async () => app?.close());

  test("then it is refused from its bytes, before it is parsed or admitted: even when it is not valid JSON", async () => {
    // 1,001 vulnerability keys and a broken end: parsing would say invalid_json; the byte scan answers first.
    const body = Buffer.from(`{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":[${Array.from({ length: 1001 }, (_, i) => `{"VulnerabilityID":"CVE-${i}","PkgName":"p"}`).join(",")}`);
    const before = await app.database.rowCounts();
    const res = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("limits-bytes")}`, body, { Authorization: `Bearer ${app.adminToken}`, ...json });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: "too_many_findings", limit_findings: 1000, findings: 1001 });
    expect(res.body.detail).toContain("at least 1001 findings");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then a description that mentions the key inside a string does not count", async () => {
    const alpine = JSON.parse(readFixture("alpine-310.json.golden").toString("utf8"));
    const vuln = alpine.Results[0].Vulnerabilities[0];
    vuln.Description = `${'"VulnerabilityID" '.repeat(2000)}`;
    const res = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("limits-bytes-quoted")}`, Buffer.from(JSON.stringify(alpine)), { Authorization: `Bearer ${app.adminToken}`, ...json });
    expect(res.status).toBe(201);
  });
});
