/**
 * A running image turns non-compliant, and back, through a rescan from every source besides a CI upload: the Trivy
 * Operator's webhook and an Amazon ECR import (the real AWS SDK against a fake ECR at the wire). The violation of
 * the workload an inventory snapshot says runs the image opens with cause `report` and resolves as image_compliant.
 */
import { readFixture, readFixtureJson } from "../support/fixtures";
import { basicFinding, type FakeEcr } from "../support/fake-ecr";
import { deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";
import { startFakeEcr } from "../integrations/ecr-support";

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

const json = () => ({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" });

async function runInCluster(cluster: string, name: string, digest: string) {
  const pods = deploymentPods({ name, namespace: "apps", replicas: 2, containers: [{ name: "main", image: "registry.example.com/team/app:1", digest }] });
  return (await app.http.post("/v1/inventory").query({ cluster }).set(json()).send(podList(pods)).expect(200)).body;
}

async function violationsOf(cluster: string) {
  const { rows } = await app.database.db.pool.query(
    `SELECT name, status, opened_cause, resolved_cause, resolution, resolved_at IS NULL AS open FROM runtime_violations WHERE cluster = $1 ORDER BY id`,
    [cluster],
  );
  return rows;
}

test("when the Trivy Operator rescans a running compliant image and finds CRITICALs, then the running workload's violation opens (cause report)", async () => {
  const digest = digestOf("rescan via operator");
  await app.http.post("/v1/reports").query({ digest }).set(json()).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  expect(await runInCluster("operator-rescan", "web", digest)).toMatchObject({ violations_opened: 0 });

  const operator = readFixtureJson("vulnerabilityreport_many.json"); // 2 CRITICAL, scanned after the alpine report
  operator.report.artifact.digest = digest;
  const res = await app.http.post("/v1/integrations/trivy-operator").query({ cluster: "elsewhere" }).set(json()).send(operator).expect(201);
  expect(res.body.images[0]).toMatchObject({ image_digest: digest, is_compliant: false });
  expect(await violationsOf("operator-rescan")).toEqual([{ name: "web", status: "non_compliant", opened_cause: "report", resolved_cause: null, resolution: null, open: true }]);
});

test("when an ECR import rescans a running image into non-compliance and a later clean scan is imported, then its violation opens and resolves (cause report)", async () => {
  const image = fake.addImage("team/runtime", { seed: "runtime-rescan", tags: ["v1"], findings: [basicFinding(1, "LOW")] });
  const importImage = async () => {
    const res = await app.http.post("/v1/integrations/ecr/import").set(json()).send({ repository: "team/runtime", image_digest: image.digest });
    expect([200, 201]).toContain(res.status);
    return res.body;
  };
  expect((await importImage()).images[0]).toMatchObject({ is_compliant: true });
  expect(await runInCluster("ecr-rescan", "worker", image.digest)).toMatchObject({ violations_opened: 0 });

  image.findings = [basicFinding(1, "LOW"), basicFinding(2, "CRITICAL")];
  image.scanCompletedAt = new Date("2026-11-02T10:05:00Z");
  expect((await importImage()).images[0]).toMatchObject({ is_compliant: false });
  expect(await violationsOf("ecr-rescan")).toEqual([{ name: "worker", status: "non_compliant", opened_cause: "report", resolved_cause: null, resolution: null, open: true }]);

  image.findings = [basicFinding(1, "LOW")];
  image.scanCompletedAt = new Date("2026-11-03T10:05:00Z");
  expect((await importImage()).images[0]).toMatchObject({ is_compliant: true });
  expect(await violationsOf("ecr-rescan")).toEqual([
    { name: "worker", status: "non_compliant", opened_cause: "report", resolved_cause: "report", resolution: "image_compliant", open: false },
  ]);
});
