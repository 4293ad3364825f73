/**
 * End to end: `scan-registry agent` (a process) between the loopback fake Kubernetes API and the real service on
 * real PostgreSQL (startTestApp). What the agent sends is what POST /v1/inventory stores: workloads with the digests
 * that run, violations that open when a non-compliant image runs and resolve when its Pod goes away.
 */
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { aPod, startFakePodsApi, type FakePodsApi } from "../support/fake-kubernetes-pods";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { assertBuilt, startCliProcess, type AgentProcess } from "../support/agent-process";

const FAST = ["--debounce", "200ms", "--max-backoff", "400ms", "--resync", "1h", "--label-interval", "1s"];
const ALPINE = "registry.example.com:5000/team/alpine";
const alpineDigest = fakeDigest("agent-e2e-alpine");
const juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;

let certs: TestCertificates;
let app: TestApp;
let kube: FakePodsApi;
let agent: AgentProcess | undefined;
let token: string;

beforeAll(async () => {
  assertBuilt("agent/run-agent.js");
  certs = generateTestCertificates();
  app = await startTestApp();
  const auth = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post("/v1/reports").query({ digest: alpineDigest, image: `${ALPINE}:3.10` }).set(auth).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").set(auth).send(readFixture("juice-shop-v10.2.0.json").toString()).expect(201);
  token = await app.token("inventory:write", "compliance:read");
});
afterAll(async () => {
  await app?.close();
  certs?.cleanup();
});
beforeEach(async () => {
  kube = await startFakePodsApi(certs);
});
afterEach(async () => {
  if (agent) {
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
    expect(agent.stdout() + agent.stderr()).not.toContain(token);
    agent = undefined;
  }
  await kube.close();
});

interface Row {
  namespace: string;
  kind: string;
  name: string;
  container: string;
  image_digest: string | null;
  source: string;
}

async function running(cluster: string): Promise<Row[]> {
  const { rows } = await app.database.db.pool.query<Row>(
    `SELECT namespace, kind, name, container, image_digest, source FROM workload_containers
     WHERE cluster = $1 AND gone_at IS NULL ORDER BY namespace, kind, name, container`,
    [cluster],
  );
  return rows;
}

async function openViolations(cluster: string): Promise<Array<{ namespace: string; name: string; status: string }>> {
  const { rows } = await app.database.db.pool.query(
    `SELECT namespace, name, status FROM runtime_violations WHERE cluster = $1 AND resolved_at IS NULL ORDER BY namespace, name`,
    [cluster],
  );
  return rows;
}

/** Reads the database until `check` passes (the agent's snapshots land asynchronously). */
async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(value)}\n${agent?.stdout().split("\n").slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const env = () => ({ KUBECONFIG: kube.kubeconfig, SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: token });

test("when the agent watches a cluster, then the registry knows its workloads and digests, and violations open and resolve with its Pods", async () => {
  kube.addPod(aPod({ namespace: "shop", name: "web-7d4b9c-abcde", image: `${ALPINE}:3.10`, imageID: `docker-pullable://${ALPINE}@${alpineDigest}` }));
  kube.addPod(aPod({ namespace: "shop", name: "web-7d4b9c-fghij", image: `${ALPINE}:3.10`, imageID: `${ALPINE}@${alpineDigest}` }));
  kube.addPod(aPod({ namespace: "kube-system", name: "pending-5c6d7-zzzzz", image: "registry.k8s.io/pause:3.9", imageID: null, phase: "Pending" }));
  agent = startCliProcess(["agent", "--cluster", "e2e-prod", ...FAST], env());

  const first = await until("the first snapshot stored", () => running("e2e-prod"), (rows) => rows.length === 2);
  expect(first).toEqual([
    { namespace: "kube-system", kind: "Deployment", name: "pending", container: "app", image_digest: null, source: "agent" },
    { namespace: "shop", kind: "Deployment", name: "web", container: "app", image_digest: alpineDigest, source: "agent" },
  ]);
  // The compliant image runs without a violation.
  expect((await openViolations("e2e-prod")).filter((v) => v.namespace === "shop")).toEqual([]);
  const answer = await agent.waitFor("the answer logged", () => agent!.logs.find((l) => l.msg === "snapshot sent"));
  expect(answer).toMatchObject({ reason: "listed", pods: 3, containers: 2, running: 1, unresolved: 1 });

  // A non-compliant image starts running (watch ADDED): a violation opens in its namespace.
  kube.addPod(aPod({ namespace: "shop", name: "juice-6f7a8b-kkkkk", image: "bkimminich/juice-shop:v10.2.0", imageID: `docker.io/bkimminich/juice-shop@${juiceDigest}` }));
  const opened = await until("the violation opened", () => openViolations("e2e-prod"), (rows) => rows.some((v) => v.name === "juice"));
  expect(opened.filter((v) => v.namespace === "shop")).toEqual([{ namespace: "shop", name: "juice", status: "non_compliant" }]);

  // Its Pod is deleted (watch DELETED): the container is gone and the violation resolves.
  kube.deletePod("shop", "juice-6f7a8b-kkkkk");
  await until("the violation resolved", () => openViolations("e2e-prod"), (rows) => !rows.some((v) => v.name === "juice"));
  const { rows: resolved } = await app.database.db.pool.query(
    "SELECT resolution FROM runtime_violations WHERE cluster = 'e2e-prod' AND name = 'juice'",
  );
  expect(resolved).toEqual([{ resolution: "container_gone" }]);
  expect((await running("e2e-prod")).map((r) => r.name)).toEqual(["pending", "web"]);
});

test("when the registry refuses the agent's token, then the agent logs the 401 and keeps retrying without sending anything else", async () => {
  kube.addPod(aPod({ namespace: "shop", name: "web-7d4b9c-abcde", image: `${ALPINE}:3.10`, imageID: `${ALPINE}@${alpineDigest}` }));
  agent = startCliProcess(["agent", "--cluster", "e2e-refused", ...FAST], { ...env(), SCAN_REGISTRY_TOKEN: "sr_not_a_real_token_000000000000" });
  const refused = await agent.waitFor("two refused snapshots", () => agent!.logs.find((l) => l.msg?.startsWith("could not send the snapshot") && l.status === 401 && l.failures >= 2));
  expect(refused.err).toMatch(/^POST \/v1\/inventory: HTTP 401 \(unauthorized\)/);
  expect(await running("e2e-refused")).toEqual([]);
  expect(agent.stdout()).not.toContain("sr_not_a_real_token_000000000000");
});

test("when the agent labels namespaces against the real registry, then the label follows the violations GET /v1/violations reports", async () => {
  const LABEL = "scan-registry.io/runtime-violations";
  for (const ns of ["shop", "web"]) kube.addNamespace(ns);
  kube.addPod(aPod({ namespace: "web", name: "front-7d4b9c-abcde", image: `${ALPINE}:3.10`, imageID: `${ALPINE}@${alpineDigest}` }));
  kube.addPod(aPod({ namespace: "shop", name: "juice-6f7a8b-kkkkk", image: "bkimminich/juice-shop:v10.2.0", imageID: `docker.io/bkimminich/juice-shop@${juiceDigest}` }));
  kube.addPod(aPod({ namespace: "shop", name: "cart-5c6d7e-lllll", image: "bkimminich/juice-shop:v10.2.0", imageID: `docker.io/bkimminich/juice-shop@${juiceDigest}` }));
  agent = startCliProcess(["agent", "--cluster", "e2e-labels", "--label-namespaces", ...FAST], env());

  await agent.waitFor("shop labelled with its two violations", () => kube.namespaceLabels("shop")?.[LABEL] === "2");
  expect(kube.namespaceLabels("web")).not.toHaveProperty(LABEL);
  expect((await openViolations("e2e-labels")).map((v) => `${v.namespace}/${v.name}`)).toEqual(["shop/cart", "shop/juice"]);

  kube.deletePod("shop", "juice-6f7a8b-kkkkk");
  await agent.waitFor("the count follows", () => kube.namespaceLabels("shop")?.[LABEL] === "1");
  kube.deletePod("shop", "cart-5c6d7e-lllll");
  await agent.waitFor("the label removed at 0", () => kube.namespaceLabels("shop") !== undefined && !(LABEL in kube.namespaceLabels("shop")!));
});
