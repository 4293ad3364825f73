/**
 * `scan-registry agent` as a process (node dist/main.js agent), with @kubernetes/client-node talking to a loopback
 * fake Kubernetes API that speaks the real list/watch protocol (test/support/fake-kubernetes-pods.ts: HTTPS with its
 * own CA from the kubeconfig, a bearer token, paged lists, chunked watch streams, 410 Gone), and a loopback receiver
 * that records what the registry would get (test/support/recording-registry.ts). Nothing is mocked inside the agent.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { aPod, startFakePodsApi, type FakePodsApi } from "../support/fake-kubernetes-pods";
import { startRecordingRegistry, type ReceivedSnapshot, type RecordingRegistry } from "../support/recording-registry";
import { assertBuilt, startCliProcess, type AgentProcess } from "../support/agent-process";

const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;
const FAST = ["--page-size", "2", "--debounce", "200ms", "--max-backoff", "400ms", "--resync", "1h", "--log-level", "debug"];

let certs: TestCertificates;
let kube: FakePodsApi;
let registry: RecordingRegistry;
let agent: AgentProcess | undefined;

beforeAll(() => {
  assertBuilt("agent/run-agent.js", "cli/commands/agent.js");
  certs = generateTestCertificates();
});
afterAll(() => certs.cleanup());

beforeEach(async () => {
  kube = await startFakePodsApi(certs);
  registry = await startRecordingRegistry();
  kube.addPod(aPod({ namespace: "shop", name: "web-7d4b9c-abcde", image: "registry.example.com/shop/web:1.2", imageID: `docker-pullable://registry.example.com/shop/web@${DIGEST("a")}` }));
  kube.addPod(aPod({ namespace: "shop", name: "cart-5f6d7-fghij", image: "registry.example.com/shop/cart:2.0", imageID: `registry.example.com/shop/cart@${DIGEST("b")}` }));
  kube.addPod(aPod({ namespace: "kube-system", name: "coredns-668d6-klmno", image: "registry.k8s.io/coredns/coredns:v1.11.3", imageID: `registry.k8s.io/coredns/coredns@${DIGEST("c")}` }));
});

afterEach(async () => {
  if (agent) {
    const exit = await agent.stop();
    // Every test ends with a clean stop: SIGTERM → exit 0.
    expect(exit).toEqual({ code: 0, signal: null });
    // Neither the registry token nor the Kubernetes token ever reaches the logs.
    expect(agent.stdout() + agent.stderr()).not.toContain(registry.token);
    expect(agent.stdout() + agent.stderr()).not.toContain(kube.token);
    agent = undefined;
  }
  await kube.close();
  await registry.close();
});

const env = () => ({ KUBECONFIG: kube.kubeconfig, SCAN_REGISTRY_URL: registry.url, SCAN_REGISTRY_TOKEN: registry.token });
const names = (s: ReceivedSnapshot) => (s.body.items as Array<{ metadata: { namespace: string; name: string } }>).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
const accepted = () => registry.snapshots.filter((s) => s.accepted);
const lastAccepted = () => accepted()[accepted().length - 1];
const listRequests = () => kube.requests.filter((r) => r.path === "/api/v1/pods" && r.query.watch !== "true");
const watchRequests = () => kube.requests.filter((r) => r.path === "/api/v1/pods" && r.query.watch === "true");

/** Waits for an accepted snapshot, after the `after`-th, whose Pods are exactly `expected`. */
function snapshotWith(expected: string[], after = 0) {
  return agent!.waitFor(`a snapshot of ${expected.join(", ")}`, () => accepted().slice(after).find((s) => JSON.stringify(names(s)) === JSON.stringify([...expected].sort())));
}

const INITIAL = ["kube-system/coredns-668d6-klmno", "shop/cart-5f6d7-fghij", "shop/web-7d4b9c-abcde"];

test("when the agent starts, then the initial list (paged) reaches the registry as one gzip PodList snapshot of the cluster, thinned", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  const first = await agent.waitFor("the first snapshot", () => registry.snapshots[0]);
  expect(first).toMatchObject({ cluster: "prod", namespace: null, source: "agent", authorization: `Bearer ${registry.token}`, contentEncoding: "gzip", accepted: true });
  expect(first.body).toMatchObject({ apiVersion: "v1", kind: "PodList" });
  expect(names(first)).toEqual(INITIAL);

  const web = first.body.items.find((p: any) => p.metadata.name === "web-7d4b9c-abcde");
  expect(web).toEqual({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-7d4b9c-abcde",
      namespace: "shop",
      uid: "uid-shop-web-7d4b9c-abcde",
      labels: { app: "web", "pod-template-hash": "7d4b9c" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", uid: "uid-web-7d4b9c", controller: true }],
    },
    spec: { nodeName: "node-1", containers: [{ name: "app", image: "registry.example.com/shop/web:1.2" }] },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: "app",
          image: "registry.example.com/shop/web:1.2",
          imageID: `docker-pullable://registry.example.com/shop/web@${DIGEST("a")}`,
          state: { running: { startedAt: "2025-01-01T00:00:02Z" } },
        },
      ],
    },
  });
  // managedFields, annotations and env never leave the cluster.
  expect(JSON.stringify(first.body)).not.toMatch(/managedFields|annotations|SECRET_LOOKING/);

  // Three Pods at two per page: two list requests, the second with the first's continue token.
  const lists = listRequests();
  expect(lists.map((r) => [r.query.limit, r.query.continue !== undefined])).toEqual([["2", false], ["2", true]]);
  expect(lists.every((r) => r.authorized)).toBe(true);
  // The watch starts from the list's resourceVersion, asks for bookmarks and a server-side timeout.
  const watch = await agent.waitFor("the watch", () => watchRequests()[0]);
  expect(watch.query).toMatchObject({ resourceVersion: String(kube.resourceVersion), allowWatchBookmarks: "true", timeoutSeconds: "300" });
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: "listed pods", pods: 3, pages: 2, reason: "initial" }));
  await agent.waitFor("the snapshot logged", () => agent!.logs.find((l) => l.msg === "snapshot sent" && l.reason === "listed" && l.pods === 3));
});

test("when a Pod is added and another deleted through the watch, then the next snapshots show it, and a BOOKMARK moves the resourceVersion on", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  await snapshotWith(INITIAL);
  await agent.waitFor("the watch", () => kube.watchers > 0);
  const before = accepted().length;

  kube.addPod(aPod({ namespace: "shop", name: "search-6c7d8-pqrst", image: "registry.example.com/shop/search:0.9", imageID: `registry.example.com/shop/search@${DIGEST("d")}` }));
  const added = await snapshotWith([...INITIAL, "shop/search-6c7d8-pqrst"], before);
  expect(added.body.items.find((p: any) => p.metadata.name === "search-6c7d8-pqrst").status.containerStatuses[0].imageID).toBe(`registry.example.com/shop/search@${DIGEST("d")}`);

  const afterAdd = accepted().length;
  kube.deletePod("shop", "cart-5f6d7-fghij");
  await snapshotWith(["kube-system/coredns-668d6-klmno", "shop/search-6c7d8-pqrst", "shop/web-7d4b9c-abcde"], afterAdd);
  const sent = await agent.waitFor("three snapshots logged", () => {
    const reasons = agent!.logs.filter((l) => l.msg === "snapshot sent").map((l) => l.reason);
    return reasons.length >= 3 && reasons;
  });
  expect(sent).toEqual(["listed", "changed", "changed"]);

  // A BOOKMARK carries only a resourceVersion (here one moved on by a change to something else than Pods): nothing
  // is sent, and a watch that ends normally (its timeoutSeconds) is resumed from the bookmark, not re-listed.
  kube.addNamespace("unrelated");
  kube.bookmark();
  const bookmarked = String(kube.resourceVersion);
  await agent.waitFor("the bookmark logged", () => agent!.logs.find((l) => l.msg === "watch bookmark" && l.resourceVersion === bookmarked));
  const lists = listRequests().length;
  kube.endWatches();
  await agent.waitFor("a watch resumed from the bookmark", () => watchRequests().find((r) => r.query.resourceVersion === bookmarked));
  expect(listRequests().length).toBe(lists);
  expect(accepted().length).toBe(afterAdd + 1);
});

test("when the watch answers 410 Gone, then the agent re-lists and sends a complete snapshot, including what it missed", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  await snapshotWith(INITIAL);
  await agent.waitFor("the watch", () => kube.watchers > 0);
  const lists = listRequests().length;
  const before = accepted().length;

  // Changes the open watch never sees (it fell behind), then the history is compacted: ERROR 410 on the stream.
  kube.addPod(aPod({ namespace: "shop", name: "missed-1a2b3-uvwxy", image: "registry.example.com/shop/missed:1", imageID: `registry.example.com/shop/missed@${DIGEST("e")}` }), { silently: true });
  kube.deletePod("shop", "web-7d4b9c-abcde", { silently: true });
  kube.expireHistory();

  const relisted = await snapshotWith(["kube-system/coredns-668d6-klmno", "shop/cart-5f6d7-fghij", "shop/missed-1a2b3-uvwxy"], before);
  expect(relisted.accepted).toBe(true);
  expect(listRequests().length).toBeGreaterThan(lists);
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: expect.stringContaining("410 Gone") }));
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: "listed pods", reason: "gone", pods: 3 }));
  // The new watch starts from the new list's resourceVersion.
  await agent.waitFor("a watch from the new list", () => watchRequests().find((r) => Number(r.query.resourceVersion) === kube.resourceVersion));
});

test("when the Kubernetes API goes away and comes back, then the agent backs off, re-lists and sends a complete snapshot", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  await snapshotWith(INITIAL);
  await agent.waitFor("the watch", () => kube.watchers > 0);
  await kube.down();
  await agent.waitFor("a failed re-connection", () => agent!.logs.find((l) => l.msg?.startsWith("Kubernetes API failed") && l.failures >= 2));
  const sentWhileDown = accepted().length;

  // While the API server is away the cluster changes.
  kube.addPod(aPod({ namespace: "batch", name: "report-28f9a-zzzzz", image: "registry.example.com/batch/report:3", imageID: `registry.example.com/batch/report@${DIGEST("f")}`, owner: { kind: "Job", name: "report-28f9a" } }));
  kube.deletePod("kube-system", "coredns-668d6-klmno");
  await kube.up();

  const recovered = await snapshotWith(["batch/report-28f9a-zzzzz", "shop/cart-5f6d7-fghij", "shop/web-7d4b9c-abcde"], sentWhileDown);
  expect(recovered.body.items.find((p: any) => p.metadata.name === "report-28f9a-zzzzz").metadata.ownerReferences[0]).toMatchObject({ kind: "Job", name: "report-28f9a" });
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: "listed pods", reason: "recovered", pods: 3 }));
  // Nothing was sent while the cache was not known to be current.
  const stale = accepted().slice(sentWhileDown).filter((s) => s !== recovered && JSON.stringify(names(s)) === JSON.stringify(INITIAL));
  expect(stale).toEqual([]);
});

test("when the registry is away while Pods change, then the agent retries with backoff and the first snapshot it accepts is complete", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  await snapshotWith(INITIAL);
  await agent.waitFor("the watch", () => kube.watchers > 0);

  registry.failWith = 503;
  kube.addPod(aPod({ namespace: "shop", name: "api-9a8b7-aaaaa", image: "registry.example.com/shop/api:5", imageID: `registry.example.com/shop/api@${DIGEST("1")}` }));
  await agent.waitFor("two refused attempts", () => registry.snapshots.filter((s) => !s.accepted).length >= 2);
  kube.deletePod("shop", "web-7d4b9c-abcde");
  // Down entirely (connection refused), not only failing.
  await registry.down();
  await agent.waitFor("a failed attempt against the closed port", () => agent!.logs.find((l) => l.msg?.startsWith("could not send the snapshot") && /cannot reach/.test(l.err)));
  kube.addPod(aPod({ namespace: "web", name: "front-1b2c3-bbbbb", image: "registry.example.com/web/front:8", imageID: `registry.example.com/web/front@${DIGEST("2")}` }));
  registry.failWith = null;
  const refusedSoFar = registry.snapshots.length;
  await registry.up();

  const firstAfter = await agent.waitFor("an accepted snapshot after the outage", () => registry.snapshots.slice(refusedSoFar).find((s) => s.accepted));
  expect(names(firstAfter)).toEqual(["kube-system/coredns-668d6-klmno", "shop/api-9a8b7-aaaaa", "shop/cart-5f6d7-fghij", "web/front-1b2c3-bbbbb"]);
  expect(agent.logs.filter((l) => l.msg?.startsWith("could not send the snapshot")).length).toBeGreaterThanOrEqual(3);
});

test("when the registry hangs on a snapshot, then SIGTERM still stops the agent at once (the request is abandoned)", async () => {
  registry.hang = true;
  // A request timeout far beyond jest's: only abandoning the request lets the stop in afterEach finish in time.
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST, "--request-timeout", "10m"], env());
  await agent.waitFor("a snapshot in flight", () => registry.snapshots[0]);
  expect(await agent.stop()).toEqual({ code: 0, signal: null });
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: "agent stopped" }));
});

test("when the resync interval passes without changes, then the agent sends the same complete snapshot again", async () => {
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST.filter((a, i, all) => a !== "--resync" && all[i - 1] !== "--resync"), "--resync", "1s"], env());
  await snapshotWith(INITIAL);
  await agent.waitFor("a resync", () => agent!.logs.find((l) => l.msg === "snapshot sent" && l.reason === "resync"));
  for (const s of accepted()) expect(names(s)).toEqual(INITIAL);
});

test("when the Kubernetes API refuses the agent's token, then it says so, keeps retrying, and still stops cleanly", async () => {
  const badConfig = `${kube.kubeconfig}.bad`;
  fs.writeFileSync(badConfig, fs.readFileSync(kube.kubeconfig, "utf8").replace(kube.token, "not-a-known-token"));
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], { ...env(), KUBECONFIG: badConfig });
  const refused = await agent.waitFor("a refusal logged", () => agent!.logs.find((l) => l.status === 401 && l.failures >= 2));
  expect(refused.msg).toMatch(/refused the agent \(check its ServiceAccount and ClusterRole\)/);
  expect(registry.snapshots).toEqual([]);
  expect(agent.stdout()).not.toContain("not-a-known-token");
});

describe("when the agent cannot start", () => {
  /** An empty home: no ~/.kube/config to fall back on. */
  const home = () => fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-home-"));
  test.each([
    ["no registry token", ["--cluster", "prod"], { SCAN_REGISTRY_TOKEN: "" }, /^error: the agent needs a registry token with the inventory:write scope: set SCAN_REGISTRY_TOKEN or pass --token\n$/],
    ["an invalid cluster name", ["--cluster", "Prod cluster"], {}, /^error: --cluster must be lowercase letters, digits, '-' and '\.'/],
    ["a bad duration", ["--cluster", "prod", "--debounce", "soon"], {}, /^error: --debounce must be a duration such as 500ms, 2s, 5m or 1h \(got "soon"\)\n$/],
    ["no Kubernetes configuration at all", ["--cluster", "prod"], { KUBECONFIG: "" }, /^error: no Kubernetes configuration found: run inside a cluster \(service account\) or set KUBECONFIG\n$/],
    ["a KUBECONFIG that does not exist", ["--cluster", "prod"], { KUBECONFIG: "/nonexistent/kubeconfig" }, /^error: cannot load the Kubernetes configuration from KUBECONFIG=\/nonexistent\/kubeconfig: .*ENOENT/],
  ])("when it is given %s, then it exits 2 with a clear message and sends nothing", async (_what, args, overrides, message) => {
    const run = startCliProcess(["agent", ...args], { ...env(), HOME: home(), ...overrides });
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(run.stderr()).toMatch(message);
    expect(registry.snapshots).toEqual([]);
    expect(kube.requests).toEqual([]);
  });
});
