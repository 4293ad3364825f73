import type { PoolClient } from "pg";
import { createLogger } from "../../src/logger";
import { basicFinding, type FakeEcr } from "../support/fake-ecr";
import { readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { startFakeEcr } from "./ecr-support";

/**
 * Issue 17 item 2, the other ways in: Trivy Operator's webhook and the ECR import (and events) are bounded by
 * MAX_REPORT_FINDINGS and the replica's ingest memory budget as POST /v1/reports is. Nothing is written when refused.
 */
let fake: FakeEcr;
beforeAll(async () => {
  fake = await startFakeEcr();
});
afterAll(async () => fake?.stop());

/** The fixture's VulnerabilityReport (41 vulnerabilities) for `digest`, keeping the first `keep`. */
function vulnerabilityReport(digest: string, keep?: number, name?: string) {
  const res = readFixtureJson("vulnerabilityreport_many.json");
  res.report.artifact.digest = digest;
  if (name) res.metadata.name = name;
  if (keep !== undefined) res.report.vulnerabilities = res.report.vulnerabilities.slice(0, keep);
  return res;
}

function secretReport(digest: string) {
  const base = vulnerabilityReport(digest);
  return {
    apiVersion: base.apiVersion,
    kind: "ExposedSecretReport",
    metadata: { ...base.metadata, name: `${base.metadata.name}-secrets` },
    report: {
      updateTimestamp: "2023-03-23T16:25:00Z",
      scanner: base.report.scanner,
      registry: base.report.registry,
      artifact: base.report.artifact,
      secrets: [{ ruleID: "aws-access-key-id", category: "AWS", severity: "CRITICAL", title: "AWS Access Key ID", target: "/app/.env", match: "AWS_ACCESS_KEY_ID=********" }],
      summary: { criticalCount: 1, highCount: 0, mediumCount: 0, lowCount: 0 },
    },
  };
}

describe("MAX_REPORT_FINDINGS=40", () => {
  let app: TestApp;
  const logLines: Array<Record<string, any>> = [];
  beforeAll(async () => {
    app = await startTestApp({
      env: { MAX_REPORT_FINDINGS: "40", LOG_LEVEL: "info" },
      logger: createLogger("info", { write: (line: string) => void logLines.push(JSON.parse(line)) }),
    });
  });
  afterAll(async () => app?.close());
  const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
  const webhook = (body: unknown) => app.http.post("/v1/integrations/trivy-operator").set(auth()).send(body as object);

  const expectTooMany = (res: { status: number; body: any; headers: Record<string, string> }, findings: number) => {
    expect(res.status).toBe(413);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: "too_many_findings", limit_findings: 40, findings });
    expect(res.body.detail).toContain("MAX_REPORT_FINDINGS");
  };

  test("when the operator's webhook sends a VulnerabilityReport of 41 findings, then 413 too_many_findings, logged, nothing written", async () => {
    const before = await app.database.rowCounts();
    expectTooMany(await webhook(vulnerabilityReport(fakeDigest("op-41"))), 41);
    expect(await app.database.rowCounts()).toEqual(before);
    expect(logLines.some((l) => l.msg === "trivy-operator report refused: more findings than MAX_REPORT_FINDINGS" && l.findings === 41)).toBe(true);
  });

  test("when a webhook List holds more findings than the limit in all, then 413 before any resource is decoded", async () => {
    const before = await app.database.rowCounts();
    const list = { apiVersion: "v1", kind: "List", items: [vulnerabilityReport(fakeDigest("op-list-1"), 25, "a"), vulnerabilityReport(fakeDigest("op-list-2"), 25, "b")] };
    // Refused from the bytes, before parsing: "at least 41".
    const res = await webhook(list);
    expectTooMany(res, 41);
    expect(res.body.detail).toContain("at least 41 findings");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a report within the limit arrives, then it is stored; when its combination with the image's other report would pass the limit, then 413", async () => {
    const digest = fakeDigest("op-combined");
    expect((await webhook(vulnerabilityReport(digest, 40))).status).toBe(201);
    const before = await app.database.rowCounts();
    // The secret report is combined with the stored 40 vulnerabilities: 41 findings in one report.
    expectTooMany(await webhook({ verb: "update", operatorObject: secretReport(digest) }), 41);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when an ECR image has more findings than the limit, then the import is 413 after reading only the first page of findings, and writes nothing", async () => {
    fake.findingsPageSize = 10;
    const findings = Array.from({ length: 60 }, (_, n) => basicFinding(n, "HIGH"));
    const { digest } = fake.addImage("limits/many", { seed: "limits-many", tags: ["v1"], findings });
    const before = await app.database.rowCounts();
    const pagesBefore = fake.callsOf("DescribeImageScanFindings").length;
    const res = await app.http.post("/v1/integrations/ecr/import").set(auth()).send({ repository: "limits/many", image_digest: digest });
    expectTooMany(res, 60);
    expect(fake.callsOf("DescribeImageScanFindings").length - pagesBefore).toBe(1);
    expect(await app.database.rowCounts()).toEqual(before);

    // The same through an EventBridge scan event.
    const event = {
      version: "0",
      id: "0b6d7ee4-0000-4000-8000-000000000001",
      "detail-type": "ECR Image Scan",
      source: "aws.ecr",
      account: "123456789012",
      time: "2026-11-01T10:05:00Z",
      region: "eu-west-1",
      resources: [`arn:aws:ecr:eu-west-1:123456789012:repository/limits/many`],
      detail: { "scan-status": "COMPLETE", "repository-name": "limits/many", "image-digest": digest, "image-tags": ["v1"], "finding-severity-counts": { HIGH: 60 } },
    };
    const viaEvent = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(event);
    expectTooMany(viaEvent, 60);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when an ECR image is within the limit, then it is imported as before", async () => {
    fake.findingsPageSize = 10;
    const findings = Array.from({ length: 40 }, (_, n) => basicFinding(n, "LOW"));
    const { digest } = fake.addImage("limits/fits", { seed: "limits-fits", tags: ["v1"], findings });
    const res = await app.http.post("/v1/integrations/ecr/import").set(auth()).send({ repository: "limits/fits", image_digest: digest });
    expect(res.status).toBe(201);
    expect(res.body.summary.low).toBe(40);
  });
});

describe("when the ingest memory budget is in use", () => {
  let app: TestApp;
  beforeAll(async () => {
    // A budget smaller than any report: each ingest is admitted alone, the next one waits 300 ms at most.
    app = await startTestApp({ env: { INGEST_MEMORY_BUDGET_BYTES: "1kb", INGEST_ADMISSION_WAIT_MS: "300" } });
  });
  afterAll(async () => app?.close());
  const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

  /** Runs `refused` while an upload is admitted and held inside its transaction (its findings COPY waits for a lock). */
  async function whileBudgetHeld(refused: () => Promise<{ status: number; body: any; headers: Record<string, string> }>) {
    const locker: PoolClient = await app.database.db.pool.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE findings IN SHARE MODE");
    const first = app.http.post("/v1/integrations/trivy-operator").set(auth()).send(vulnerabilityReport(fakeDigest(`budget-holder-${Math.random()}`)));
    const firstDone = first.then((r) => r);
    try {
      for (let i = 0; i < 400 && app.service.deps.ingestAdmission.used === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(app.service.deps.ingestAdmission.used).toBeGreaterThan(0);
      const before = await app.database.rowCounts();
      const res = await refused();
      expect(res.status).toBe(503);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.body).toMatchObject({ code: "ingest_busy", retry_after_seconds: 5 });
      expect(await app.database.rowCounts()).toEqual(before);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    expect((await firstDone).status).toBe(201);
    expect(app.service.deps.ingestAdmission.used).toBe(0);
  }

  test("then a further operator webhook waits, then gets 503 ingest_busy with Retry-After and writes nothing", async () => {
    await whileBudgetHeld(() => app.http.post("/v1/integrations/trivy-operator").set(auth()).send(vulnerabilityReport(fakeDigest("budget-op-second"))));
    expect((await app.http.post("/v1/integrations/trivy-operator").set(auth()).send(vulnerabilityReport(fakeDigest("budget-op-second")))).status).toBe(201);
  });

  test("then an ECR import waits, then gets 503 ingest_busy with Retry-After and writes nothing", async () => {
    const { digest } = fake.addImage("limits/budget", { seed: "limits-budget", tags: ["v1"], findings: [basicFinding(1, "HIGH")] });
    const importIt = () => app.http.post("/v1/integrations/ecr/import").set(auth()).send({ repository: "limits/budget", image_digest: digest });
    await whileBudgetHeld(importIt);
    expect((await importIt()).status).toBe(201);
  });
});
