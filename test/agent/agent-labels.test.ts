/**
 * `scan-registry agent --label-namespaces` as a process: counts of open runtime violations come from the registry
 * (GET /v1/violations, every page: the receiver answers two per page so the agent must follow next_cursor), labels go
 * to the fake Kubernetes API as JSON merge patches, which it records and applies.
 */
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { aPod, startFakePodsApi, type FakePodsApi } from "../support/fake-kubernetes-pods";
import { startRecordingRegistry, type RecordingRegistry } from "../support/recording-registry";
import { assertBuilt, startCliProcess, type AgentProcess } from "../support/agent-process";

const LABEL = "scan-registry.io/runtime-violations";
const FAST = ["--debounce", "100ms", "--max-backoff", "400ms", "--resync", "1h", "--label-interval", "1s", "--log-level", "debug"];

let certs: TestCertificates;
let kube: FakePodsApi;
let registry: RecordingRegistry;
let agent: AgentProcess | undefined;

beforeAll(() => {
  assertBuilt("agent/namespace-labeller.js");
  certs = generateTestCertificates();
});
afterAll(() => certs.cleanup());
beforeEach(async () => {
  kube = await startFakePodsApi(certs);
  registry = await startRecordingRegistry();
  for (const ns of ["shop", "web", "kube-system"]) kube.addNamespace(ns);
  // Left by an earlier run: shop no longer has 5, idle has none at all.
  kube.addNamespace("idle", { [LABEL]: "3", team: "idle" });
  kube.addPod(aPod({ namespace: "shop", name: "web-7d4b9c-abcde", image: "registry.example.com/shop/web:1.2", imageID: `registry.example.com/shop/web@sha256:${"a".repeat(64)}` }));
});
afterEach(async () => {
  if (agent) {
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
    expect(agent.stdout() + agent.stderr()).not.toContain(registry.token);
    agent = undefined;
  }
  await kube.close();
  await registry.close();
});

const violation = (namespace: string, name: string, cluster = "prod") => ({ cluster, namespace, name, container: "app" });
const env = () => ({ KUBECONFIG: kube.kubeconfig, SCAN_REGISTRY_URL: registry.url, SCAN_REGISTRY_TOKEN: registry.token });
const labelOf = (ns: string) => kube.namespaceLabels(ns)?.[LABEL];
/** A full reconcile round after the n-th: the agent asked for violations again and finished its patches. */
const reconciled = (after: number) => () => agent!.logs.filter((l) => l.msg === "namespace labels reconciled").length > after;

test("when namespaces have open violations, then the agent labels them with the count, updates it as it changes and removes it at 0", async () => {
  registry.violations = [
    violation("shop", "web"),
    violation("shop", "cart"),
    violation("web", "front"),
    violation("gone-ns", "old"), // a namespace deleted since: 404, skipped
    violation("shop", "other-cluster", "staging"), // another cluster's: not counted
  ];
  agent = startCliProcess(["agent", "--cluster", "prod", "--label-namespaces", ...FAST], env());
  await agent.waitFor("labels set", () => labelOf("shop") === "2" && labelOf("web") === "1" && labelOf("idle") === undefined);

  // Merge patches, one per namespace that was wrong; null removes; other labels untouched.
  const first = [...kube.patches];
  expect(first.every((p) => p.contentType === "application/merge-patch+json")).toBe(true);
  expect(first.map((p) => [p.namespace, p.body])).toEqual(
    expect.arrayContaining([
      ["shop", { metadata: { labels: { [LABEL]: "2" } } }],
      ["web", { metadata: { labels: { [LABEL]: "1" } } }],
      ["gone-ns", { metadata: { labels: { [LABEL]: "1" } } }],
      ["idle", { metadata: { labels: { [LABEL]: null } } }],
    ]),
  );
  expect(kube.namespaceLabels("idle")).toEqual({ "kubernetes.io/metadata.name": "idle", team: "idle" });
  expect(kube.namespaceLabels("kube-system")).not.toHaveProperty(LABEL);
  // Every page was read: the receiver answers two violations per page.
  expect(registry.violationQueries.slice(0, 2).map((q) => [q.state, q.cluster, q.cursor !== undefined])).toEqual([
    ["open", "prod", false],
    ["open", "prod", true],
  ]);
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: "set namespace label", namespace: "shop", value: "2" }));

  // When nothing changed, the next rounds patch nothing.
  const rounds = agent.logs.filter((l) => l.msg === "namespace labels reconciled").length;
  const patchesBefore = kube.patches.filter((p) => p.namespace !== "gone-ns").length;
  await agent.waitFor("two more rounds", reconciled(rounds + 1));
  expect(kube.patches.filter((p) => p.namespace !== "gone-ns").length).toBe(patchesBefore);

  // A rescan opens one more in shop and resolves web's: the count goes up, the label of web goes away.
  registry.violations = [violation("shop", "web"), violation("shop", "cart"), violation("shop", "search")];
  await agent.waitFor("labels updated", () => labelOf("shop") === "3" && labelOf("web") === undefined);
  expect(kube.patches.slice(first.length).map((p) => [p.namespace, p.body.metadata.labels[LABEL]])).toEqual(
    expect.arrayContaining([
      ["shop", "3"],
      ["web", null],
    ]),
  );

  // Everything resolved: no label left anywhere.
  registry.violations = [];
  await agent.waitFor("labels removed", () => labelOf("shop") === undefined);
  expect(["shop", "web", "idle", "kube-system"].map(labelOf)).toEqual([undefined, undefined, undefined, undefined]);
});

test("when the registry cannot answer for violations, then the labels are left as they are and fixed once it answers", async () => {
  registry.violations = [violation("shop", "web")];
  registry.failWith = 503;
  agent = startCliProcess(["agent", "--cluster", "prod", "--label-namespaces", ...FAST], env());
  await agent.waitFor("a failed reconcile", () => agent!.logs.find((l) => l.msg?.startsWith("could not reconcile namespace labels") && l.status === 503));
  expect(kube.patches).toEqual([]);
  expect(labelOf("idle")).toBe("3");
  registry.failWith = null;
  await agent.waitFor("labels after recovery", () => labelOf("shop") === "1" && labelOf("idle") === undefined);
});

test("when the agent runs without --label-namespaces, then it never reads violations nor patches a namespace", async () => {
  registry.violations = [violation("shop", "web")];
  agent = startCliProcess(["agent", "--cluster", "prod", ...FAST], env());
  await agent.waitFor("a snapshot", () => agent!.logs.find((l) => l.msg === "snapshot sent"));
  // Longer than --label-interval: a labeller would have run by now.
  await new Promise((r) => setTimeout(r, 2500));
  expect(registry.violationQueries).toEqual([]);
  expect(kube.patches).toEqual([]);
  expect(kube.requests.filter((r) => r.path.startsWith("/api/v1/namespaces"))).toEqual([]);
});
