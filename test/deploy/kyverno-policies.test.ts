/**
 * Every policy in deploy/kyverno runs here against the real service, as Kyverno would run it: the ClusterPolicies
 * through a small Kyverno engine (support/kyverno-cluster-policy.ts: apiCall requests built as Kyverno builds them,
 * JMESPath, deny conditions, foreach), the ValidatingPolicy through a real CEL evaluator with Kyverno's http,
 * resource and base64 libraries (support/evaluate-validating-policy.mjs). In-cluster URLs are rewritten to the test
 * service; the lookup token comes from the Secret in deploy/kyverno/lookup-token.yaml with a real token in it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { aPod } from "../support/fake-kubernetes-pods";
import { admit, backgroundScan, type AdmissionRequest, type Decision, type ScanResult } from "./support/kyverno-cluster-policy";

const KYVERNO_DIR = path.resolve(__dirname, "../../deploy/kyverno");
const SERVICE_BASE = "http://scan-registry.scan-registry.svc:8080";
const SECRET_PATH = "/api/v1/namespaces/kyverno/secrets/scan-registry-lookup";

type Obj = Record<string, any>;
const documents: Obj[] = fs
  .readdirSync(KYVERNO_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(KYVERNO_DIR, f), "utf8")).map((d) => {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
      return { ...(d.toJS() as Obj), __file: f };
    }),
  );
/** Admission policies refuse Pods; the background Audit policies (admission disabled) report running Pods. */
const isBackgroundAudit = (d: Obj) => d.spec.admission === false || d.spec.evaluation?.admission?.enabled === false;
const clusterPolicies = documents.filter((d) => d.kind === "ClusterPolicy" && !isBackgroundAudit(d));
const validatingPolicies = documents.filter((d) => d.kind === "ValidatingPolicy" && !isBackgroundAudit(d));
const auditClusterPolicies = documents.filter((d) => d.kind === "ClusterPolicy" && isBackgroundAudit(d));
const auditValidatingPolicies = documents.filter((d) => d.kind === "ValidatingPolicy" && isBackgroundAudit(d));
const lookupSecret = documents.find((d) => d.kind === "Secret" && d.metadata.name === "scan-registry-lookup")!;

let app: TestApp;
let lookupToken: string;
const compliantDigest = fakeDigest("kyverno-compliant");
const COMPLIANT = "registry.example.com:5000/team/alpine:3.10";
const NON_COMPLIANT = "bkimminich/juice-shop:v10.2.0";
const UNKNOWN = "docker.io/library/nginx:1.27";

beforeAll(async () => {
  app = await startTestApp();
  const auth = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post("/v1/reports").query({ digest: compliantDigest, image: COMPLIANT }).set(auth).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").set(auth).send(readFixture("juice-shop-v10.2.0.json").toString()).expect(201);
  lookupToken = await app.token("compliance:read");
});
afterAll(async () => app.close());

const pod = (namespace: string, images: { containers: string[]; initContainers?: string[] }): AdmissionRequest => ({
  operation: "CREATE",
  namespace,
  object: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace },
    spec: {
      containers: images.containers.map((image, i) => ({ name: `c${i}`, image })),
      ...(images.initContainers ? { initContainers: images.initContainers.map((image, i) => ({ name: `i${i}`, image })) } : {}),
    },
  },
});

/** The Secret as the API server returns it: stringData folded into base64 data. */
function secretAsServed(token: string): Obj {
  return { apiVersion: "v1", kind: "Secret", metadata: lookupSecret.metadata, type: "Opaque", data: { token: Buffer.from(token).toString("base64") } };
}

async function runClusterPolicy(policy: Obj, request: AdmissionRequest, token = lookupToken): Promise<Decision> {
  return admit(policy, request, {
    kubernetesApi(urlPath) {
      if (urlPath !== SECRET_PATH) throw new Error(`the fake API server has nothing at ${urlPath}`);
      return secretAsServed(token);
    },
    rewriteServiceUrl(url) {
      expect(url.startsWith(SERVICE_BASE)).toBe(true);
      return app.service.url + url.slice(SERVICE_BASE.length);
    },
  });
}

async function runValidatingPolicy(policy: Obj, request: AdmissionRequest, token = lookupToken, background = false): Promise<Decision> {
  const excluded = policy.spec.matchConstraints.namespaceSelector?.matchExpressions?.some(
    (e: Obj) => e.key === "kubernetes.io/metadata.name" && e.operator === "NotIn" && e.values.includes(request.namespace),
  );
  if (excluded) return { decision: background ? ("skip" as Decision["decision"]) : "allow", message: "", requests: [] };
  const input = {
    policy,
    request,
    background,
    serviceBase: SERVICE_BASE,
    serviceUrl: app.service.url,
    kubernetesObjects: { "v1/secrets/kyverno/scan-registry-lookup": secretAsServed(token) },
  };
  const child = spawn(process.execPath, [path.join(__dirname, "support/evaluate-validating-policy.mjs")], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`CEL evaluator exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as Decision;
}

const policies: Array<[string, Obj, (p: Obj, r: AdmissionRequest, token?: string) => Promise<Decision>]> = [
  ...clusterPolicies.map((p) => [`${p.__file} (ClusterPolicy ${p.metadata.name})`, p, runClusterPolicy] as [string, Obj, typeof runClusterPolicy]),
  ...validatingPolicies.map((p) => [`${p.__file} (ValidatingPolicy ${p.metadata.name})`, p, runValidatingPolicy] as [string, Obj, typeof runValidatingPolicy]),
];

test("when deploy/kyverno is read, then it holds the per-image and batch ClusterPolicies and a CEL ValidatingPolicy, all failing closed, and the two background audits", () => {
  expect(clusterPolicies.map((p) => p.metadata.name).sort()).toEqual(["scan-registry-compliant-images", "scan-registry-compliant-images-batch"]);
  expect(validatingPolicies.map((p) => p.apiVersion)).toEqual(["policies.kyverno.io/v1"]);
  expect(auditClusterPolicies.map((p) => p.metadata.name)).toEqual(["scan-registry-running-images"]);
  expect(auditValidatingPolicies.map((p) => [p.apiVersion, p.metadata.name])).toEqual([["policies.kyverno.io/v1", "scan-registry-running-images-cel"]]);
  for (const p of [...clusterPolicies, ...validatingPolicies]) expect(p.spec.failurePolicy).toBe("Fail");
  const perImage = clusterPolicies.find((p) => p.metadata.name === "scan-registry-compliant-images")!;
  const each = perImage.spec.rules[0].validate.foreach[0];
  expect(each.list).toBe("request.object.spec.[ephemeralContainers, initContainers, containers][]");
  expect(each.context[0].apiCall.method).toBe("GET");
  const batch = clusterPolicies.find((p) => p.metadata.name === "scan-registry-compliant-images-batch")!;
  const call = batch.spec.rules[0].context.find((c: Obj) => c.name === "compliance").apiCall;
  expect(call.method).toBe("POST");
  expect(call.service.headers).toContainEqual({ key: "Content-Type", value: "application/json" });
  expect(call.data.map((d: Obj) => d.key)).toEqual(["images", "namespace"]);
  expect(lookupSecret.metadata.namespace).toBe("kyverno");
});

describe.each(policies)("%s", (_name, policy, run) => {
  test("when every image is compliant, then the Pod is admitted", async () => {
    const d = await run(policy, pod("team-a", { containers: [COMPLIANT, `anything/else@${compliantDigest}`] }));
    expect(d).toMatchObject({ decision: "allow" });
    expect(d.requests.length).toBeGreaterThan(0);
    for (const r of d.requests) expect(r.headers.Authorization).toBe(`Bearer ${lookupToken}`);
  });

  test("when an image has CRITICAL vulnerabilities, then the Pod is refused with the image and the reason", async () => {
    const d = await run(policy, pod("team-a", { containers: [COMPLIANT, NON_COMPLIANT] }));
    expect(d.decision).toBe("deny");
    expect(d.message).toContain(NON_COMPLIANT);
    expect(d.message).toContain("non_compliant");
    expect(d.message).toMatch(/CRITICAL/);
  });

  test("when an image was never scanned, then the Pod is refused as not_scanned (HTTP 200 from the service, no error)", async () => {
    const d = await run(policy, pod("team-a", { containers: [UNKNOWN] }));
    expect(d.decision).toBe("deny");
    expect(d.message).toContain(UNKNOWN);
    expect(d.message).toContain("not_scanned");
  });

  test("when only an init container is non-compliant, then the Pod is still refused", async () => {
    const d = await run(policy, pod("team-a", { containers: [COMPLIANT], initContainers: [NON_COMPLIANT] }));
    expect(d.decision).toBe("deny");
    expect(d.message).toContain(NON_COMPLIANT);
  });

  test("when the lookup token is wrong, then the service answers 401 and the Pod is refused (fail closed)", async () => {
    const d = await run(policy, pod("team-a", { containers: [COMPLIANT] }), "sr_not_a_real_token_000000000000");
    expect(d.decision).toBe("error");
    expect(d.message).toMatch(/401/);
  });

  test("when the Pod is in scan-registry's own namespace, then it is not checked (the service can start while it is down)", async () => {
    const d = await run(policy, pod("scan-registry", { containers: [UNKNOWN] }));
    expect(d).toEqual({ decision: "allow", message: "", requests: [] });
  });
});

test("when the batch policy posts, then the body is the data entries as one JSON object and the namespace reaches the decision log", async () => {
  const batch = clusterPolicies.find((p) => p.metadata.name === "scan-registry-compliant-images-batch")!;
  const d = await runClusterPolicy(batch, pod("batch-ns", { containers: [COMPLIANT], initContainers: [UNKNOWN] }));
  const post = d.requests.find((r) => r.method === "POST")!;
  expect(post.url).toBe(`${SERVICE_BASE}/v1/compliance/check`);
  expect(JSON.parse(post.body!)).toEqual({ images: [UNKNOWN, COMPLIANT], namespace: "batch-ns" });
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query("SELECT image_ref, status FROM admission_decisions WHERE namespace = 'batch-ns' ORDER BY image_ref");
  expect(rows).toEqual([
    { image_ref: UNKNOWN, status: "not_scanned" },
    { image_ref: COMPLIANT, status: "compliant" },
  ].sort((a, b) => a.image_ref.localeCompare(b.image_ref)));
});

test("when a policy sends the batch body without Content-Type (Kyverno before 1.13 cannot set it), then the service answers the same", async () => {
  const batch = structuredClone(clusterPolicies.find((p) => p.metadata.name === "scan-registry-compliant-images-batch")!);
  const call = batch.spec.rules[0].context.find((c: Obj) => c.name === "compliance").apiCall;
  call.service.headers = call.service.headers.filter((h: Obj) => h.key !== "Content-Type");
  const denied = await runClusterPolicy(batch, pod("team-b", { containers: [NON_COMPLIANT] }));
  expect(denied.requests.find((r) => r.method === "POST")!.headers["Content-Type"]).toBeUndefined();
  expect(denied.decision).toBe("deny");
  const allowed = await runClusterPolicy(batch, pod("team-b", { containers: [COMPLIANT] }));
  expect(allowed.decision).toBe("allow");
});

test("when the per-image policy asks, then it sends one GET per image with the image reference and the namespace", async () => {
  const perImage = clusterPolicies.find((p) => p.metadata.name === "scan-registry-compliant-images")!;
  const d = await runClusterPolicy(perImage, pod("team-c", { containers: [COMPLIANT, `anything/else@${compliantDigest}`] }));
  expect(d.decision).toBe("allow");
  expect(d.requests.map((r) => [r.method, new URL(r.url).searchParams.get("image"), new URL(r.url).searchParams.get("namespace")])).toEqual([
    ["GET", COMPLIANT, "team-c"],
    ["GET", `anything/else@${compliantDigest}`, "team-c"],
  ]);
  const juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
  const byDigest = await runClusterPolicy(perImage, pod("team-c", { containers: [`bkimminich/juice-shop@${juiceDigest}`] }));
  expect(byDigest.decision).toBe("deny");
});

/**
 * The background audits: run over existing Pods as Kyverno's reports controller runs them (no admission request),
 * with Pods as the API server returns them, statuses included. What they check is what runs — the digests in
 * status.*ContainerStatuses[].imageID — not what the spec names.
 */
describe("background audit of running digests", () => {
  const juiceDigest = () => (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
  const unknownDigest = fakeDigest("kyverno-running-unknown");
  const running = (namespace: string, imageID: string | null, extra: { initImageID?: string; image?: string } = {}) =>
    aPod({
      namespace,
      name: "web-5d8f9c-x2k4q",
      image: extra.image ?? COMPLIANT,
      imageID,
      ...(extra.initImageID ? { initImage: { image: "registry.example.com/tools/init:1", imageID: extra.initImageID } } : {}),
    });
  const asPod = (pod: Obj) => ({ apiVersion: "v1", kind: "Pod", ...pod });

  async function scanClusterPolicy(policy: Obj, pod: Obj, token = lookupToken): Promise<ScanResult> {
    return backgroundScan(policy, asPod(pod), {
      kubernetesApi(urlPath) {
        if (urlPath !== SECRET_PATH) throw new Error(`the fake API server has nothing at ${urlPath}`);
        return secretAsServed(token);
      },
      rewriteServiceUrl(url) {
        expect(url.startsWith(SERVICE_BASE)).toBe(true);
        return app.service.url + url.slice(SERVICE_BASE.length);
      },
    });
  }
  async function scanValidatingPolicy(policy: Obj, pod: Obj, token = lookupToken): Promise<ScanResult> {
    const d = await runValidatingPolicy(policy, { namespace: pod.metadata.namespace, object: asPod(pod) }, token, true);
    const result = ({ allow: "pass", deny: "fail", error: "error", skip: "skip" } as const)[d.decision as "allow" | "deny" | "error" | "skip"];
    return { result, message: d.message, requests: d.requests };
  }
  const audits: Array<[string, Obj, (p: Obj, pod: Obj, token?: string) => Promise<ScanResult>]> = [
    ...auditClusterPolicies.map((p) => [`${p.__file} (ClusterPolicy ${p.metadata.name})`, p, scanClusterPolicy] as [string, Obj, typeof scanClusterPolicy]),
    ...auditValidatingPolicies.map((p) => [`${p.__file} (ValidatingPolicy ${p.metadata.name})`, p, scanValidatingPolicy] as [string, Obj, typeof scanValidatingPolicy]),
  ];

  test("when the audits are read, then they run in background scans only, as Audit, and never at admission", async () => {
    for (const p of auditClusterPolicies) {
      expect(p.spec).toMatchObject({ admission: false, background: true });
      for (const rule of p.spec.rules) expect(rule.validate.failureAction).toBe("Audit");
      // The admission webhook never evaluates it: no request, whatever the Pod.
      expect(await runClusterPolicy(p, pod("team-a", { containers: [NON_COMPLIANT] }))).toEqual({ decision: "allow", message: "", requests: [] });
    }
    for (const p of auditValidatingPolicies) {
      expect(p.spec.validationActions).toEqual(["Audit"]);
      expect(p.spec.evaluation).toEqual({ admission: { enabled: false }, background: { enabled: true } });
    }
  });

  describe.each(audits)("%s", (_name, policy, scan) => {
    test("when a Pod runs the compliant digest (docker-pullable:// form), then it passes, and the scheme was stripped before asking", async () => {
      const r = await scan(policy, running("team-a", `docker-pullable://registry.example.com:5000/team/alpine@${compliantDigest}`));
      expect(r).toMatchObject({ result: "pass" });
      expect(r.requests).toHaveLength(1);
      expect(JSON.parse(r.requests[0]!.body!)).toEqual({ images: [`registry.example.com:5000/team/alpine@${compliantDigest}`], namespace: "team-a" });
      expect(r.requests[0]!.headers.Authorization).toBe(`Bearer ${lookupToken}`);
    });

    test("when the spec names a compliant tag but the Pod runs another, non-compliant digest, then it fails naming the digest (what runs counts)", async () => {
      const r = await scan(policy, running("team-a", `docker.io/bkimminich/juice-shop@${juiceDigest()}`));
      expect(r.result).toBe("fail");
      expect(r.message).toContain(`running images that would not be admitted now: docker.io/bkimminich/juice-shop@${juiceDigest()} (non_compliant: `);
      expect(r.message).toMatch(/CRITICAL/);
      expect(r.message).not.toContain(COMPLIANT);
    });

    test("when a Pod runs a digest never scanned, or reports only an image config ID, then it fails as not_scanned", async () => {
      const unknown = await scan(policy, running("team-a", `docker.io/library/nginx@${unknownDigest}`));
      expect(unknown.result).toBe("fail");
      expect(unknown.message).toContain("not_scanned");
      const configId = await scan(policy, running("team-a", `docker://${fakeDigest("kyverno-config-id")}`));
      expect(configId.result).toBe("fail");
      expect(JSON.parse(configId.requests[0]!.body!).images).toEqual([fakeDigest("kyverno-config-id")]);
    });

    test("when only an init container ran a non-compliant digest, then the Pod still fails", async () => {
      const r = await scan(policy, running("team-a", `registry.example.com:5000/team/alpine@${compliantDigest}`, { initImageID: `docker.io/bkimminich/juice-shop@${juiceDigest()}` }));
      expect(r.result).toBe("fail");
      expect(r.message).toContain(juiceDigest());
      expect(JSON.parse(r.requests[0]!.body!).images.sort()).toEqual([`docker.io/bkimminich/juice-shop@${juiceDigest()}`, `registry.example.com:5000/team/alpine@${compliantDigest}`].sort());
    });

    test("when a Pod is pending (no statuses) or still pulling (empty imageID), then it is skipped without a call", async () => {
      for (const pending of [running("team-a", null), running("team-a", "")]) {
        const r = await scan(policy, pending);
        expect(r.result).toBe("skip");
        expect(r.requests).toEqual([]);
      }
    });

    test("when the lookup token is wrong, then the result is an error (401), not a pass", async () => {
      const r = await scan(policy, running("team-a", `registry.example.com:5000/team/alpine@${compliantDigest}`), "sr_not_a_real_token_000000000000");
      expect(r.result).toBe("error");
      expect(r.message).toMatch(/401/);
    });

    test("when the Pod is in an excluded namespace, then it is skipped", async () => {
      const r = await scan(policy, running("kube-system", `docker.io/library/nginx@${unknownDigest}`));
      expect(r).toMatchObject({ result: "skip", requests: [] });
    });
  });
});
