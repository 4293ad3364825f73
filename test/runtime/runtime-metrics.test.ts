/**
 * The runtime gauges on /metrics: running containers and open runtime violations by cluster and status, read from
 * the database at scrape time, with no namespace, workload or digest labels (bounded cardinality).
 */
import { readFixture } from "../support/fixtures";
import { aPod, deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";

let app: TestApp;
let reader: string;
const NON_COMPLIANT = digestOf("metrics: fluentd");
const COMPLIANT = digestOf("metrics: alpine");

beforeAll(async () => {
  app = await startTestApp();
  reader = await app.token("compliance:read");
  const json = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post("/v1/reports").query({ digest: NON_COMPLIANT, image: "registry.example.com/team/fluentd:1.0" }).set(json).send(readFixture("fluentd-gems.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").query({ digest: COMPLIANT, image: "docker.io/library/alpine:3.10" }).set(json).send(readFixture("alpine-310.json.golden").toString()).expect(201);
});
afterAll(async () => app?.close());

const scrape = async () => (await app.http.get("/metrics").set({ Authorization: `Bearer ${reader}` }).expect(200)).text;
const samples = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
const value = (text: string, sample: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
};
const send = (cluster: string, pods: unknown[], namespace?: string) =>
  app.http
    .post("/v1/inventory")
    .query({ cluster, ...(namespace ? { namespace } : {}) })
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(podList(pods as Record<string, unknown>[]))
    .expect(200);

test("when containers run in two clusters, then the gauges count them by cluster and status, and follow the next snapshot", async () => {
  await send("prod", [
    ...deploymentPods({ name: "api", namespace: "shop", replicas: 3, hash: "5d4f8c7b9d", containers: [{ name: "api", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] }),
    ...deploymentPods({ name: "web", namespace: "web", replicas: 1, hash: "7c9b5d4f8d", containers: [{ name: "web", image: "alpine:3.10", digest: COMPLIANT }] }),
    aPod({ name: "cron", namespace: "jobs", containers: [{ name: "c", image: "alpine:3.10", digest: COMPLIANT }] }),
    aPod({ name: "exporter", namespace: "monitoring", containers: [{ name: "e", image: "quay.io/prometheus/node-exporter:v1.8.2", digest: digestOf("metrics: unscanned") }] }),
    aPod({ name: "pending", namespace: "shop", unscheduled: true, containers: [{ name: "p", image: "ghcr.io/acme/app:2.1" }] }),
  ]);
  await send("edge", [aPod({ name: "probe", namespace: "default", containers: [{ name: "p", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] })]);
  let text = await scrape();
  expect(value(text, 'scan_registry_running_containers{cluster="prod",status="compliant"}')).toBe(2);
  expect(value(text, 'scan_registry_running_containers{cluster="prod",status="non_compliant"}')).toBe(1);
  expect(value(text, 'scan_registry_running_containers{cluster="prod",status="not_scanned"}')).toBe(1);
  expect(value(text, 'scan_registry_running_containers{cluster="prod",status="unresolved"}')).toBe(1);
  expect(value(text, 'scan_registry_running_containers{cluster="edge",status="non_compliant"}')).toBe(1);
  expect(value(text, 'scan_registry_runtime_violations_open{cluster="prod",status="non_compliant"}')).toBe(1);
  expect(value(text, 'scan_registry_runtime_violations_open{cluster="prod",status="not_scanned"}')).toBe(1);
  expect(value(text, 'scan_registry_runtime_violations_open{cluster="edge",status="non_compliant"}')).toBe(1);

  // The edge cluster empties: its series go away instead of staying at their last value.
  await send("edge", []);
  text = await scrape();
  expect(samples(text, "scan_registry_running_containers").filter((l) => l.includes('cluster="edge"'))).toEqual([]);
  expect(samples(text, "scan_registry_runtime_violations_open").filter((l) => l.includes('cluster="edge"'))).toEqual([]);
  expect(value(text, 'scan_registry_running_containers{cluster="prod",status="compliant"}')).toBe(2);
});

test("when scraped, then the runtime gauges carry only cluster and status labels", async () => {
  const text = await scrape();
  const lines = [...samples(text, "scan_registry_running_containers"), ...samples(text, "scan_registry_runtime_violations_open")];
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const labels = [...line.slice(line.indexOf("{") + 1, line.indexOf("}")).matchAll(/(\w+)="/g)].map((m) => m[1]);
    expect(labels).toEqual(["cluster", "status"]);
  }
  expect(text).not.toContain("sha256:");
  expect(text).not.toMatch(/namespace="/);
});
