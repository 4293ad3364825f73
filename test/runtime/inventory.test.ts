/**
 * POST /v1/inventory: a PodList as kubectl prints it is a snapshot of a cluster (or a namespace). Through the real
 * service on real PostgreSQL.
 */
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import {
  aPod,
  cronJobPod,
  daemonSetPods,
  deploymentPods,
  digestOf,
  jobPod,
  podList,
  statefulSetPods,
} from "../support/pods";

let app: TestApp;
let inventoryToken: string;
const NON_COMPLIANT = digestOf("fluentd (1 CRITICAL)");
const COMPLIANT = digestOf("alpine 3.10 (4 MEDIUM)");
const UNSCANNED = digestOf("never scanned");

beforeAll(async () => {
  app = await startTestApp();
  inventoryToken = await app.token("inventory:write");
  const json = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post("/v1/reports").query({ digest: NON_COMPLIANT, image: "registry.example.com/team/fluentd:1.0" }).set(json).send(readFixture("fluentd-gems.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").query({ digest: COMPLIANT, image: "docker.io/library/alpine:3.10" }).set(json).send(readFixture("alpine-310.json.golden").toString()).expect(201);
});
afterAll(async () => app?.close());

const post = (query: Record<string, string>, body: unknown, token = inventoryToken) =>
  app.http.post("/v1/inventory").query(query).set({ Authorization: `Bearer ${token}`, "Content-Type": "application/json" }).send(body as object);

async function running(cluster: string) {
  const { rows } = await app.database.db.pool.query(
    `SELECT namespace, kind, name, container, container_type, image_ref, image_digest, pods, source
     FROM workload_containers WHERE cluster = $1 AND gone_at IS NULL ORDER BY namespace, kind, name, container, image_key`,
    [cluster],
  );
  return rows;
}

/** A small but realistic cluster: every shape `kubectl get pods -A -o json` shows. */
function clusterPods() {
  return [
    ...deploymentPods({ name: "api", namespace: "shop", replicas: 3, hash: "5d4f8c7b9d", containers: [{ name: "api", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] }),
    ...statefulSetPods({ name: "db", namespace: "shop", replicas: 2, containers: [{ name: "postgres", image: "alpine:3.10", digest: COMPLIANT, runtime: "docker" }] }),
    ...daemonSetPods({ name: "node-exporter", namespace: "monitoring", nodes: 2, containers: [{ name: "exporter", image: "quay.io/prometheus/node-exporter:v1.8.2", digest: UNSCANNED }] }),
    cronJobPod({ cronJob: "nightly-report", namespace: "shop", containers: [{ name: "report", image: "alpine:3.10", digest: COMPLIANT }] }),
    // A finished run of the same CronJob: it runs nothing any more.
    cronJobPod({ cronJob: "nightly-report", namespace: "shop", scheduledMinutes: 29_410_920, phase: "Succeeded", containers: [{ name: "report", image: "alpine:3.10", digest: COMPLIANT, state: "terminated" }] }),
    jobPod({ job: "migrate-2", namespace: "shop", containers: [{ name: "migrate", image: "alpine:3.10", digest: COMPLIANT }] }),
    aPod({ name: "debug-shell", namespace: "default", containers: [{ name: "shell", image: "alpine:3.10", digest: COMPLIANT, restarts: 4, state: "crashloop" }] }),
    // Not scheduled yet: no container statuses, so no digest.
    aPod({ name: "pending-0", namespace: "shop", unscheduled: true, containers: [{ name: "app", image: "ghcr.io/acme/app:2.1" }] }),
    // An image loaded into the node (kind load): the runtime knows only its config ID.
    aPod({ name: "local-image", namespace: "default", containers: [{ name: "app", image: "acme/local:dev", digest: digestOf("local"), runtime: "containerd-config-id" }] }),
    aPod({ name: "docker-config", namespace: "default", containers: [{ name: "app", image: "acme/old:1", digest: digestOf("old"), runtime: "docker-config-id" }] }),
    // Init container (completed) and an ephemeral debug container (kubectl debug).
    aPod({
      name: "web-0",
      namespace: "default",
      initContainers: [{ name: "init-config", image: "alpine:3.10", digest: COMPLIANT }],
      containers: [{ name: "web", image: "alpine:3.10", digest: COMPLIANT }],
      ephemeralContainers: [{ name: "debugger-x7k2p", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }],
    }),
  ];
}

test("when a kubectl PodList is posted, then each workload container is stored once with its Pods, digest and top controller", async () => {
  const res = await post({ cluster: "prod" }, podList(clusterPods())).expect(200);
  expect(res.body).toMatchObject({ cluster: "prod", namespace: null, pods: 15, containers: 12, running: 9, unresolved: 3, gone: 0 });
  // not compliant and running: api (fluentd), the node-exporter (never scanned), the ephemeral debugger (fluentd).
  expect(res.body.violations_opened).toBe(3);
  expect(res.body.violations_resolved).toBe(0);
  const rows = await running("prod");
  const key = (r: any) => `${r.namespace} ${r.kind}/${r.name} ${r.container}`;
  expect(rows.map(key)).toEqual([
    "default Pod/debug-shell shell",
    "default Pod/docker-config app",
    "default Pod/local-image app",
    "default Pod/web-0 debugger-x7k2p",
    "default Pod/web-0 init-config",
    "default Pod/web-0 web",
    "monitoring DaemonSet/node-exporter exporter",
    "shop CronJob/nightly-report report",
    "shop Deployment/api api",
    "shop Job/migrate-2 migrate",
    "shop Pod/pending-0 app",
    "shop StatefulSet/db postgres",
  ]);
  const byKey = Object.fromEntries(rows.map((r) => [key(r), r]));
  expect(byKey["shop Deployment/api api"]).toMatchObject({ image_digest: NON_COMPLIANT, pods: 3, image_ref: "registry.example.com/team/fluentd:1.0", container_type: "regular", source: "inventory" });
  expect(byKey["shop StatefulSet/db postgres"]).toMatchObject({ image_digest: COMPLIANT, pods: 2, image_ref: "docker.io/library/alpine:3.10" });
  expect(byKey["monitoring DaemonSet/node-exporter exporter"]).toMatchObject({ image_digest: UNSCANNED, pods: 2 });
  expect(byKey["shop CronJob/nightly-report report"]).toMatchObject({ pods: 1 });
  expect(byKey["default Pod/web-0 init-config"]).toMatchObject({ container_type: "init", image_digest: COMPLIANT });
  expect(byKey["default Pod/web-0 debugger-x7k2p"]).toMatchObject({ container_type: "ephemeral", image_digest: NON_COMPLIANT });
  expect(byKey["shop Pod/pending-0 app"]).toMatchObject({ image_digest: null, image_ref: "ghcr.io/acme/app:2.1" });
  expect(byKey["default Pod/local-image app"]).toMatchObject({ image_digest: null });
  expect(byKey["default Pod/docker-config app"]).toMatchObject({ image_digest: null });
});

test("when the API's own PodList shape (items without kind) is posted, then it is taken the same way", async () => {
  const res = await post({ cluster: "podlist-shape" }, podList(clusterPods(), "PodList")).expect(200);
  expect(res.body).toMatchObject({ pods: 15, containers: 12, unresolved: 3 });
});

test("when a later snapshot lacks containers, then they are gone, their violations resolve, and the rest keeps first_seen_at", async () => {
  const cluster = "gone-test";
  await post({ cluster }, podList(clusterPods())).expect(200);
  const before = await app.database.db.pool.query("SELECT first_seen_at FROM workload_containers WHERE cluster = $1 AND name = 'db'", [cluster]);
  const without = clusterPods().filter((p: any) => !p.metadata.name.startsWith("api-") && !p.metadata.name.startsWith("node-exporter"));
  const res = await post({ cluster }, podList(without)).expect(200);
  expect(res.body).toMatchObject({ containers: 10, gone: 2, violations_opened: 0, violations_resolved: 2 });
  const names = (await running(cluster)).map((r) => r.name);
  expect(names).not.toContain("api");
  expect(names).not.toContain("node-exporter");
  const after = await app.database.db.pool.query("SELECT first_seen_at, last_seen_at FROM workload_containers WHERE cluster = $1 AND name = 'db'", [cluster]);
  expect(after.rows[0].first_seen_at).toEqual(before.rows[0].first_seen_at);
  const violations = await app.database.db.pool.query(
    "SELECT name, resolution, resolved_cause FROM runtime_violations WHERE cluster = $1 AND resolved_at IS NOT NULL ORDER BY name",
    [cluster],
  );
  expect(violations.rows).toEqual([
    { name: "api", resolution: "container_gone", resolved_cause: "inventory" },
    { name: "node-exporter", resolution: "container_gone", resolved_cause: "inventory" },
  ]);
  // Back again: a new running period, a new violation.
  const again = await post({ cluster }, podList(clusterPods())).expect(200);
  expect(again.body).toMatchObject({ gone: 0, violations_opened: 2 });
  const periods = await app.database.db.pool.query("SELECT count(*)::int AS n FROM workload_containers WHERE cluster = $1 AND name = 'api'", [cluster]);
  expect(periods.rows[0].n).toBe(2);
});

test("when a namespace snapshot is posted, then only that namespace is replaced and other namespaces stay running", async () => {
  const cluster = "partial";
  await post({ cluster }, podList(clusterPods())).expect(200);
  const shopOnly = clusterPods().filter((p: any) => p.metadata.namespace === "shop" && !p.metadata.name.startsWith("db-"));
  const res = await post({ cluster, namespace: "shop" }, podList(shopOnly)).expect(200);
  expect(res.body).toMatchObject({ namespace: "shop", gone: 1 });
  const rows = await running(cluster);
  expect(rows.filter((r) => r.namespace === "default")).toHaveLength(6);
  expect(rows.filter((r) => r.namespace === "monitoring")).toHaveLength(1);
  expect(rows.find((r) => r.name === "db")).toBeUndefined();
  // An empty namespace snapshot empties that namespace only.
  const empty = await post({ cluster, namespace: "monitoring" }, podList([])).expect(200);
  expect(empty.body).toMatchObject({ containers: 0, gone: 1, violations_resolved: 1 });
  expect((await running(cluster)).filter((r) => r.namespace === "default")).toHaveLength(6);
});

test("when a namespace snapshot holds a Pod of another namespace, then 422 names it and nothing is written", async () => {
  const before = await app.database.rowCounts();
  const res = await post({ cluster: "prod", namespace: "shop" }, podList(clusterPods())).expect(422);
  expect(res.body.code).toBe("invalid_pod_list");
  expect(res.body.errors[0]).toMatchObject({ path: expect.stringMatching(/^items\.\d+\.metadata\.namespace$/), message: expect.stringContaining("must be shop") });
  expect(await app.database.rowCounts()).toEqual(before);
});

test.each([
  ["a single Pod, not a list", () => clusterPods()[0], "kind"],
  ["a List of Services", () => ({ apiVersion: "v1", kind: "List", items: [{ apiVersion: "v1", kind: "Service", metadata: { name: "x", namespace: "a" }, spec: {} }] }), "items.0.kind"],
  ["a Pod without containers", () => podList([{ ...clusterPods()[0], spec: { containers: [] } }]), "items.0.spec.containers"],
  ["a Pod whose container has no name", () => podList([aPod({ name: "a", namespace: "b", containers: [{ name: "", image: "x" }] })]), "items.0.spec.containers.0.name"],
  ["imageID of the wrong type", () => {
    const pod: any = aPod({ name: "a", namespace: "b", containers: [{ name: "c", image: "x", digest: COMPLIANT }] });
    pod.status.containerStatuses[0].imageID = 42;
    return podList([pod]);
  }, "items.0.status.containerStatuses.0.imageID"],
  ["a Pod without a namespace (and none named)", () => {
    const pod: any = aPod({ name: "a", namespace: "b", containers: [{ name: "c", image: "x" }] });
    delete pod.metadata.namespace;
    return podList([pod]);
  }, "items.0.metadata.namespace"],
  ["an array", () => [clusterPods()[0]], ""],
])("when the body is %s, then 422 with the path and nothing is written", async (_what, body, path) => {
  const before = await app.database.rowCounts();
  const res = await post({ cluster: "prod" }, body()).expect(422);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe("invalid_pod_list");
  expect(res.body.errors.map((e: any) => e.path)).toContain(path);
  expect(await app.database.rowCounts()).toEqual(before);
});

test.each([
  [{ cluster: "Prod" }, "query.cluster"],
  [{ cluster: "prod_eu" }, "query.cluster"],
  [{ cluster: "-prod" }, "query.cluster"],
  [{ cluster: "a".repeat(64) }, "query.cluster"],
  [{}, "query.cluster"],
  [{ cluster: "prod", namespace: "Shop" }, "query.namespace"],
  [{ cluster: "prod", source: "trivy-operator" }, "query.source"],
  [{ cluster: "prod", clusters: "x" }, "query"],
])("when the query is %j, then 422 names %s and nothing is written", async (query, path) => {
  const before = await app.database.rowCounts();
  const res = await post(query as Record<string, string>, podList(clusterPods())).expect(422);
  expect(res.body.errors.map((e: any) => e.path)).toContain(path);
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when the body is not JSON, then 400", async () => {
  const res = await app.http.post("/v1/inventory").query({ cluster: "prod" }).set({ Authorization: `Bearer ${inventoryToken}`, "Content-Type": "application/json" }).send("{not json");
  expect(res.status).toBe(400);
});

test("when a token without inventory:write posts, then 403; with admin, then 200", async () => {
  const reader = await app.token("compliance:read", "reports:write");
  await post({ cluster: "auth" }, podList([]), reader).expect(403);
  await post({ cluster: "auth" }, podList([]), app.adminToken).expect(200);
});

describe("with small limits", () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await startTestApp({ env: { MAX_INVENTORY_PODS: "5", MAX_INVENTORY_BYTES: "40kb", MAX_JSON_BODY_BYTES: "4kb" } });
  });
  afterAll(async () => small?.close());
  const postSmall = (body: unknown) =>
    small.http.post("/v1/inventory").query({ cluster: "prod" }).set({ Authorization: `Bearer ${small.adminToken}`, "Content-Type": "application/json" }).send(body as object);

  test("when a snapshot has more Pods than MAX_INVENTORY_PODS, then 413 too_many_pods and nothing is written", async () => {
    const before = await small.database.rowCounts();
    const pods = deploymentPods({ name: "a", namespace: "n", replicas: 6, containers: [{ name: "c", image: "alpine:3.10", digest: COMPLIANT }] });
    const res = await postSmall(podList(pods)).expect(413);
    expect(res.body).toMatchObject({ code: "too_many_pods", limit_pods: 5, pods: 6 });
    expect(await small.database.rowCounts()).toEqual(before);
  });

  test("when a snapshot is larger than MAX_INVENTORY_BYTES, then 413 naming the setting and nothing is written", async () => {
    const before = await small.database.rowCounts();
    const pods = deploymentPods({ name: "a", namespace: "n", replicas: 5, containers: [{ name: "c", image: "alpine:3.10", digest: COMPLIANT }] });
    for (const p of pods as any[]) p.metadata.annotations = { note: "x".repeat(9000) };
    const res = await postSmall(podList(pods)).expect(413);
    expect(res.body.code).toBe("payload_too_large");
    expect(res.body.detail).toContain("MAX_INVENTORY_BYTES");
    expect(await small.database.rowCounts()).toEqual(before);
  });

  test("when a snapshot within its limits is larger than MAX_JSON_BODY_BYTES, then it is stored: that ceiling is for other routes", async () => {
    const pods = deploymentPods({ name: "a", namespace: "n", replicas: 5, containers: [{ name: "c", image: "alpine:3.10", digest: COMPLIANT }] });
    const body = podList(pods);
    expect(JSON.stringify(body).length).toBeGreaterThan(4096);
    await postSmall(body).expect(200);
  });
});
