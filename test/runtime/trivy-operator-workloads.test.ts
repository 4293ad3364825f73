/**
 * Trivy Operator reports say where their image runs (labels trivy-operator.resource.* and trivy-operator.container.name):
 * the webhook and uploads record it in the cluster named by ?cluster=, without marking anything else gone.
 * The real operator fixture (a ReplicaSet of Deployment nginx-deployment running library/nginx:alpine, 2 CRITICAL).
 */
import { readFixtureJson } from "../support/fixtures";
import { deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

const auth = () => ({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" });

function operatorReport(digest: string, labels: Record<string, string> = {}) {
  const res = readFixtureJson("vulnerabilityreport_many.json");
  res.report.artifact.digest = digest;
  Object.assign(res.metadata.labels, labels);
  return res;
}

async function rowsOf(cluster: string) {
  const { rows } = await app.database.db.pool.query(
    `SELECT namespace, kind, name, container, image_ref, image_digest, source, pods, gone_at IS NULL AS running
     FROM workload_containers WHERE cluster = $1 ORDER BY id`,
    [cluster],
  );
  return rows;
}

test("when the operator's webhook sends a VulnerabilityReport with ?cluster=, then its workload runs the digest there, as the Deployment, with a violation", async () => {
  const digest = digestOf("nginx:alpine (operator)");
  await app.http.post("/v1/integrations/trivy-operator").query({ cluster: "prod" }).set(auth()).send(operatorReport(digest)).expect(201);
  expect(await rowsOf("prod")).toEqual([
    { namespace: "default", kind: "Deployment", name: "nginx-deployment", container: "nginx", image_ref: "docker.io/library/nginx:alpine", image_digest: digest, source: "trivy-operator", pods: null, running: true },
  ]);
  const { rows } = await app.database.db.pool.query("SELECT status, opened_cause FROM runtime_violations WHERE cluster = 'prod' AND resolved_at IS NULL");
  expect(rows).toEqual([{ status: "non_compliant", opened_cause: "inventory" }]);

  // The same broadcast again: still one running row, one violation.
  await app.http.post("/v1/integrations/trivy-operator").query({ cluster: "prod" }).set(auth()).send(operatorReport(digest)).expect(200);
  expect(await rowsOf("prod")).toHaveLength(1);
  const again = await app.database.db.pool.query("SELECT count(*)::int AS n FROM runtime_violations WHERE cluster = 'prod'");
  expect(again.rows[0].n).toBe(1);
});

test("when the webhook has no ?cluster=, then the workload is recorded in cluster default", async () => {
  const digest = digestOf("nginx (default cluster)");
  await app.http.post("/v1/integrations/trivy-operator").set(auth()).send(operatorReport(digest)).expect(201);
  expect((await rowsOf("default")).map((r) => r.image_digest)).toContain(digest);
});

test("when the webhook's cluster name is invalid, then 422 and nothing is written", async () => {
  const before = await app.database.rowCounts();
  const res = await app.http.post("/v1/integrations/trivy-operator").query({ cluster: "Not A Cluster" }).set(auth()).send(operatorReport(digestOf("x"))).expect(422);
  expect(res.body.errors.map((e: any) => e.path)).toContain("query.cluster");
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when a resource of a StatefulSet is uploaded to POST /v1/reports with ?cluster=, then it is recorded as that StatefulSet", async () => {
  const digest = digestOf("redis (upload)");
  const body = operatorReport(digest, {
    "trivy-operator.resource.kind": "StatefulSet",
    "trivy-operator.resource.name": "redis",
    "trivy-operator.resource.namespace": "cache",
    "trivy-operator.container.name": "redis",
  });
  await app.http.post("/v1/reports").query({ cluster: "staging" }).set(auth()).send(body).expect(201);
  expect(await rowsOf("staging")).toEqual([expect.objectContaining({ namespace: "cache", kind: "StatefulSet", name: "redis", container: "redis", image_digest: digest })]);
});

test("when a resource lacks the workload labels, then the report is stored and no workload is invented", async () => {
  const digest = digestOf("no labels");
  const body = operatorReport(digest);
  body.metadata.labels = {};
  await app.http.post("/v1/integrations/trivy-operator").query({ cluster: "nolabels" }).set(auth()).send(body).expect(201);
  expect(await rowsOf("nolabels")).toEqual([]);
});

test("when the operator reports into a cluster an inventory knows, then nothing else is marked gone; the next snapshot decides", async () => {
  const cluster = "mixed";
  const app1 = digestOf("mixed app");
  await app.http
    .post("/v1/inventory")
    .query({ cluster })
    .set(auth())
    .send(podList(deploymentPods({ name: "shop", namespace: "web", replicas: 2, containers: [{ name: "shop", image: "ghcr.io/acme/shop:1", digest: app1 }] })))
    .expect(200);
  const nginx = digestOf("mixed nginx");
  await app.http.post("/v1/integrations/trivy-operator").query({ cluster }).set(auth()).send(operatorReport(nginx)).expect(201);
  expect((await rowsOf(cluster)).map((r) => [r.name, r.running])).toEqual([["shop", true], ["nginx-deployment", true]]);

  // A snapshot is the authority on what runs: the operator's workload is not in it, so it is gone, and its violation resolves.
  const snap = await app.http
    .post("/v1/inventory")
    .query({ cluster })
    .set(auth())
    .send(podList(deploymentPods({ name: "shop", namespace: "web", replicas: 2, containers: [{ name: "shop", image: "ghcr.io/acme/shop:1", digest: app1 }] })))
    .expect(200);
  expect(snap.body).toMatchObject({ gone: 1, violations_resolved: 1 });
  expect((await rowsOf(cluster)).map((r) => [r.name, r.running])).toEqual([["shop", true], ["nginx-deployment", false]]);
});
