import supertest from "supertest";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startService, type RunningService } from "../../src/server";
import { readFixtureJson } from "../support/fixtures";
import { TEST_ADMIN_TOKEN } from "../support/test-app";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { fakeDigest } from "../support/trivy-counts";

/** The service with its log captured: the operator ignores answers, so refusals must show in the log. */
let service: RunningService;
let database: TestDatabase;
let http: ReturnType<typeof supertest>;
const logLines: Array<Record<string, any>> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: database.url, ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "info" });
  const logger = createLogger("info", { write: (line: string) => void logLines.push(JSON.parse(line)) });
  service = await startService(config, { logger });
  http = supertest(service.url);
});
afterAll(async () => {
  await service?.close();
  await database?.drop();
});

const auth = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const webhook = (body: unknown) => http.post("/v1/integrations/trivy-operator").set(auth).send(body as object);

const SEVERITY_KEYS: Record<string, keyof Summary> = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "low" };

/** Summary counts straight from a raw operator resource. */
type Summary = Record<"critical" | "high" | "medium" | "low" | "unknown" | "fixable" | "secrets" | "misconfigurations", number>;

function rawCounts(resource: any): Summary {
  const s: Summary = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, secrets: 0, misconfigurations: 0 };
  for (const v of resource.report.vulnerabilities ?? []) {
    s[SEVERITY_KEYS[String(v.severity).toUpperCase()] ?? "unknown"] += 1;
    if (v.fixedVersion) s.fixable += 1;
  }
  s.secrets += (resource.report.secrets ?? []).length;
  return s;
}

function vulnerabilityReport(digest: string | null, overrides: { updateTimestamp?: string; keep?: number } = {}) {
  const res = readFixtureJson("vulnerabilityreport_many.json");
  if (digest) res.report.artifact.digest = digest;
  if (overrides.updateTimestamp) res.report.updateTimestamp = overrides.updateTimestamp;
  if (overrides.keep !== undefined) res.report.vulnerabilities = res.report.vulnerabilities.slice(0, overrides.keep);
  return res;
}

function secretReport(digest: string, updateTimestamp = "2023-03-23T16:25:00Z") {
  const base = vulnerabilityReport(digest);
  return {
    apiVersion: base.apiVersion,
    kind: "ExposedSecretReport",
    metadata: { ...base.metadata, name: "replicaset-nginx-deployment-965685897-nginx-secrets" },
    report: {
      updateTimestamp,
      scanner: base.report.scanner,
      registry: base.report.registry,
      artifact: base.report.artifact,
      secrets: [{ ruleID: "aws-access-key-id", category: "AWS", severity: "CRITICAL", title: "AWS Access Key ID", target: "/app/.env", match: "AWS_ACCESS_KEY_ID=********" }],
      summary: { criticalCount: 1, highCount: 0, mediumCount: 0, lowCount: 0 },
    },
  };
}

async function imageRow(digest: string) {
  const { rows } = await service.deps.pool.query(
    "SELECT is_compliant, status, critical_count, high_count, medium_count, low_count, secret_count, latest_report_id FROM image_scans WHERE image_digest = $1",
    [digest],
  );
  return rows[0];
}

test("when the resource has no report.artifact.digest, then 422 missing_digest, a warning naming it, and nothing written", async () => {
  const before = await database.rowCounts();
  const res = await webhook(vulnerabilityReport(null));
  expect(res.status).toBe(422);
  expect(res.body.code).toBe("missing_digest");
  expect(res.body.errors).toEqual([{ path: "report.artifact.digest", message: "required" }]);
  expect(await database.rowCounts()).toEqual(before);
  const warning = logLines.find((l) => l.level === 40 && /artifact\.digest is missing/.test(l.msg));
  expect(warning?.resource).toBe("VulnerabilityReport default/replicaset-nginx-deployment-965685897-nginx");
});

test("when the digest is missing inside the webhook envelope or a one-item List, then the error path points into the body as sent", async () => {
  const before = await database.rowCounts();
  const enveloped = await webhook({ verb: "update", operatorObject: vulnerabilityReport(null) });
  expect(enveloped.status).toBe(422);
  expect(enveloped.body.errors).toEqual([{ path: "operatorObject.report.artifact.digest", message: "required" }]);
  const listed = await webhook({ apiVersion: "v1", kind: "List", items: [vulnerabilityReport(null)] });
  expect(listed.status).toBe(422);
  expect(listed.body.errors).toEqual([{ path: "items.0.report.artifact.digest", message: "required" }]);
  expect(await database.rowCounts()).toEqual(before);
});

test("when a VulnerabilityReport with a digest arrives, then it is stored for that digest with the resource's own counts", async () => {
  const digest = fakeDigest("operator-1");
  const resource = vulnerabilityReport(digest);
  const res = await webhook(resource);
  expect(res.status).toBe(201);
  expect(res.body.format).toBe("trivy-operator");
  expect(res.body.summary).toEqual(rawCounts(resource));
  expect(res.body.images).toEqual([
    expect.objectContaining({ image_digest: digest, repository: "docker.io/library/nginx", tags: ["alpine"], is_compliant: false }),
  ]);
  const again = await webhook(resource);
  expect(again.status).toBe(200);
  expect(again.body.duplicate).toBe(true);
});

test("when a secret report and a vulnerability report of one digest arrive separately, then the image's verdict reflects both", async () => {
  const digest = fakeDigest("operator-2");
  const vulns = vulnerabilityReport(digest, { keep: 5 });
  const first = await webhook(vulns);
  expect(first.status).toBe(201);
  expect((await imageRow(digest)).secret_count).toBe(0);

  const secrets = await webhook({ verb: "update", operatorObject: secretReport(digest) });
  expect(secrets.status).toBe(201);
  const combined = { ...rawCounts(vulns), secrets: 1 };
  expect(secrets.body.summary).toEqual(combined);
  const row = await imageRow(digest);
  expect(row).toMatchObject({ secret_count: 1, critical_count: combined.critical, high_count: combined.high, latest_report_id: secrets.body.report_id });
  expect(row.status).toBe("non_compliant");

  // A rescan replaces the vulnerabilities; the secrets stay.
  const rescan = vulnerabilityReport(digest, { keep: 2, updateTimestamp: "2023-03-24T08:00:00Z" });
  const third = await webhook(rescan);
  expect(third.body.summary).toEqual({ ...rawCounts(rescan), secrets: 1 });
  const raw = await http.get(`/v1/reports/${third.body.report_id}/raw`).set(auth);
  expect(JSON.parse(raw.text).items.map((i: { kind: string }) => i.kind)).toEqual(["ExposedSecretReport", "VulnerabilityReport"]);
});

test("when both kinds arrive at the same moment, then neither is lost", async () => {
  const digest = fakeDigest("operator-3");
  const vulns = vulnerabilityReport(digest, { keep: 7 });
  const answers = await Promise.all([webhook(vulns), webhook(secretReport(digest, "2023-03-23T16:23:01Z"))]);
  expect(answers.map((a) => a.status)).toEqual([201, 201]);
  const row = await imageRow(digest);
  expect(row.secret_count).toBe(1);
  expect(row.critical_count + row.high_count + row.medium_count + row.low_count).toBe(7);
});

test("when the operator broadcasts a delete, then the reports are marked deleted, kept, and the verdict stays", async () => {
  const digest = fakeDigest("operator-4");
  // A tag no other report in this file names (the fixture's nginx:alpine is also named by newer reports, which the
  // tag would resolve to whether or not this one is deleted).
  const resource = vulnerabilityReport(digest);
  resource.report.artifact.tag = "operator-4-only";
  const tagRef = "nginx:operator-4-only";
  const created = await webhook(resource);
  expect(created.status).toBe(201);
  const verdictBefore = await imageRow(digest);
  const byTagBefore = await http.get(`/v1/compliance?image=${tagRef}`).set(auth);
  expect(byTagBefore.status).toBe(200);
  expect(byTagBefore.body.image_digest).toBe(digest);
  const res = await webhook({ verb: "delete", operatorObject: resource });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    verb: "delete",
    deleted: [{ image_digest: digest, resource: "VulnerabilityReport default/replicaset-nginx-deployment-965685897-nginx", reports_marked: 1 }],
  });
  const report = await http.get(`/v1/reports/${created.body.report_id}`).set(auth);
  expect(report.status).toBe(200);
  expect(report.body.deleted_at).not.toBeNull();
  expect(await imageRow(digest)).toEqual(verdictBefore);
  // The tag no longer resolves through a deleted report.
  const byTag = await http.get(`/v1/compliance?image=${tagRef}`).set(auth);
  expect(byTag.status).toBe(200);
  expect(byTag.body.image_digest).not.toBe(digest);
  expect(byTag.body.image_digest).toBeNull();
  expect(byTag.body.status).toBe("not_scanned");
  await service.deps.decisionLog.flush(); // the lookup's decision-log row, before the next test counts rows
});

test("when a payload names another kind of resource, then 415 and nothing is written", async () => {
  const before = await database.rowCounts();
  const res = await webhook({ apiVersion: "aquasecurity.github.io/v1alpha1", kind: "ConfigAuditReport", metadata: { name: "x" }, report: {} });
  expect(res.status).toBe(415);
  expect(await database.rowCounts()).toEqual(before);
});
