/**
 * `scan-registry inventory push` as a process, against a loopback receiver that records what the registry gets
 * (the same endpoint contract as POST /v1/inventory in PRODUCT.md).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { aPod } from "../support/fake-kubernetes-pods";
import { assertBuilt } from "../support/agent-process";
import { startRecordingRegistry, type RecordingRegistry } from "../support/recording-registry";
import { startTestApp, type TestApp } from "../support/test-app";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string>, stdin?: string | Buffer) => runCli(args, { env, stdin });

/** `kubectl get pods -A -o json` as kubectl prints it: a List-free PodList with every field of the Pods. */
const kubectlOutput = {
  apiVersion: "v1",
  kind: "List",
  metadata: { resourceVersion: "" },
  items: [
    { apiVersion: "v1", kind: "Pod", ...aPod({ namespace: "shop", name: "web-7d4b9c-abcde", image: "registry.example.com/shop/web:1.2", imageID: `registry.example.com/shop/web@sha256:${"a".repeat(64)}` }) },
    { apiVersion: "v1", kind: "Pod", ...aPod({ namespace: "shop", name: "pending-1a2b3-ccccc", image: "registry.example.com/shop/next:2", imageID: null, phase: "Pending" }) },
  ],
};

let registry: RecordingRegistry;
let tmp: string;
let env: Record<string, string>;
beforeAll(async () => {
  assertBuilt("cli/commands/inventory.js");
  registry = await startRecordingRegistry();
  env = { SCAN_REGISTRY_URL: registry.url, SCAN_REGISTRY_TOKEN: registry.token };
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-inventory-"));
});
afterAll(async () => {
  await registry.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  registry.snapshots.length = 0;
  registry.failWith = null;
});

test("when kubectl's output is piped in with -, then it is sent as it is (gzip) as a snapshot of the cluster and the answer is printed", async () => {
  const run = await cli(["inventory", "push", "--cluster", "prod", "-"], env, JSON.stringify(kubectlOutput));
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toBe("cluster prod: 2 pods, 2 containers (2 with a digest, 0 unresolved), 0 gone\nruntime violations: 0 opened, 0 resolved\n");
  expect(registry.snapshots).toHaveLength(1);
  expect(registry.snapshots[0]).toMatchObject({ cluster: "prod", namespace: null, source: null, contentEncoding: "gzip", authorization: `Bearer ${registry.token}` });
  // Untouched: the registry validates and thins it, not the CLI.
  expect(registry.snapshots[0]!.body).toEqual(kubectlOutput);
});

test("when a file is named with --namespace and --json, then that namespace's snapshot is sent and the API answer printed as JSON", async () => {
  const file = path.join(tmp, "shop.json");
  fs.writeFileSync(file, JSON.stringify(kubectlOutput));
  const run = await cli(["inventory", "push", "--cluster", "prod", "--namespace", "shop", "--json", file], env);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ cluster: "prod", namespace: "shop", pods: 2, containers: 2, running: 2, gone: 0, unresolved: 0, violations_opened: 0, violations_resolved: 0 });
  expect(registry.snapshots[0]).toMatchObject({ cluster: "prod", namespace: "shop" });
});

test("when the registry refuses the snapshot, then it exits 2 with the problem's status, code and detail", async () => {
  registry.failWith = 503;
  const run = await cli(["inventory", "push", "--cluster", "prod", "-"], env, JSON.stringify(kubectlOutput));
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe("error: POST /v1/inventory?cluster=prod failed: HTTP 503 (unavailable): The registry is not available.\n");
});

test.each([
  [["inventory", "push", "--cluster", "Prod_1", "-"], "", /^error: --cluster must be lowercase letters/],
  [["inventory", "push", "--cluster", "prod", "/nonexistent/pods.json"], "", /^error: cannot read \/nonexistent\/pods\.json: ENOENT\n$/],
  [["inventory", "push", "--cluster", "prod", "-"], "", /^error: standard input is empty: expected a PodList \(kubectl get pods -A -o json\)\n$/],
  [["inventory", "push", "-"], "{}", /required option '--cluster <name>' not specified/],
])("when '%s' is run with bad input, then it exits 2 with a clear message and sends nothing", async (args, stdin, message) => {
  const run = await cli(args, env, stdin);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(message);
  expect(registry.snapshots).toEqual([]);
});

test("when the registry cannot be reached, then it exits 2 saying so", async () => {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  const run = await cli(["inventory", "push", "--cluster", "prod", "--url", `http://127.0.0.1:${port}`, "-"], env, JSON.stringify(kubectlOutput));
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`error: could not connect to http://127.0.0.1:${port}: connection refused\n`);
});

describe("against the real service", () => {
  let app: TestApp;
  let appEnv: Record<string, string>;
  beforeAll(async () => {
    app = await startTestApp();
    appEnv = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: await app.token("inventory:write") };
  });
  afterAll(async () => app?.close());

  test("when kubectl's output is pushed, then the registry stores it as the cluster's snapshot and the CLI prints its answer", async () => {
    const run = await cli(["inventory", "push", "--cluster", "push-e2e", "-"], appEnv, JSON.stringify(kubectlOutput));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    // The digest that runs was never scanned: a runtime violation opens for it.
    expect(run.stdout).toBe("cluster push-e2e: 2 pods, 2 containers (1 with a digest, 1 unresolved), 0 gone\nruntime violations: 1 opened, 0 resolved\n");
    const { rows } = await app.database.db.pool.query(
      "SELECT namespace, kind, name, image_digest, source FROM workload_containers WHERE cluster = 'push-e2e' AND gone_at IS NULL ORDER BY name",
    );
    expect(rows).toEqual([
      { namespace: "shop", kind: "Deployment", name: "pending", image_digest: null, source: "inventory" },
      { namespace: "shop", kind: "Deployment", name: "web", image_digest: `sha256:${"a".repeat(64)}`, source: "inventory" },
    ]);

    // The next snapshot without the web Pod marks it gone.
    const next = { ...kubectlOutput, items: kubectlOutput.items.slice(1) };
    const again = await cli(["inventory", "push", "--cluster", "push-e2e", "--json", "-"], appEnv, JSON.stringify(next));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ cluster: "push-e2e", pods: 1, gone: 1 });
  });

  test("when the body is not a PodList, then the registry's 422 is printed with its paths and it exits 2, storing nothing", async () => {
    const notPods = { apiVersion: "v1", kind: "PodList", items: [{ metadata: { name: "x", namespace: "shop" }, spec: {} }] };
    const run = await cli(["inventory", "push", "--cluster", "push-bad", "-"], appEnv, JSON.stringify(notPods));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: POST \/v1\/inventory\?cluster=push-bad failed: HTTP 422 \(invalid_pod_list\): /);
    expect(run.stderr).toMatch(/^ {2}items\.0\.spec\.containers: /m);
    const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM workload_containers WHERE cluster = 'push-bad'");
    expect(rows).toEqual([{ n: 0 }]);
  });

  test("when the token lacks inventory:write, then it exits 2 with the 403", async () => {
    const run = await cli(["inventory", "push", "--cluster", "push-e2e", "-"], { ...appEnv, SCAN_REGISTRY_TOKEN: await app.token("compliance:read") }, JSON.stringify(kubectlOutput));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/HTTP 403/);
  });
});
