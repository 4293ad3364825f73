/**
 * Every manifest in deploy/kubernetes is validated offline against the Kubernetes JSON schemas that the
 * kubernetes-models package ships (types, required fields, enums), then checked for the properties the deployment
 * relies on: two replicas, probes, a locked-down security context, the database URL from a Secret, Kyverno admitted by
 * the NetworkPolicy, a PodDisruptionBudget, the migration Job, and consistent names and selectors between them.
 */
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const DIR = path.resolve(__dirname, "../../deploy/kubernetes");
type Obj = Record<string, any>;

const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yaml")).sort();
const manifests: Array<Obj & { __file: string }> = files
  .filter((f) => f !== "kustomization.yaml")
  .flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(DIR, f), "utf8")).map((d) => {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
      return { ...(d.toJS() as Obj), __file: f };
    }),
  );

/** The kubernetes-models class for apiVersion/kind: core "v1" lives at kubernetes-models/v1, groups at <group>/<version>. */
function modelFor(apiVersion: string, kind: string): { new (data: Obj): { validate(): void } } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, { new (data: Obj): { validate(): void } }>;
  const model = mod[kind];
  if (!model) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model;
}

const one = (kind: string, name?: string): Obj => {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found).toHaveLength(1);
  return found[0]!;
};

test.each(manifests.map((m) => [`${m.__file}: ${m.kind} ${m.metadata?.name}`, m] as const))(
  "when %s is validated against the Kubernetes schema, then it is valid",
  (_name, manifest) => {
    const { __file, ...data } = manifest;
    expect(() => new (modelFor(data.apiVersion, data.kind))(data).validate()).not.toThrow();
  },
);

test("when a manifest has a wrongly typed field, then the schema validation reports it with its path (the check can fail)", () => {
  const { __file, ...deployment } = structuredClone(one("Deployment", "scan-registry"));
  deployment.spec.replicas = "two";
  deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = "yes";
  expect(() => new (modelFor("apps/v1", "Deployment"))(deployment).validate()).toThrow(/replicas|readOnlyRootFilesystem/);
});

test("when the kustomization is applied, then it includes every manifest except the example Secret and the agent (applied per cluster)", () => {
  const kustomization = parseAllDocuments(fs.readFileSync(path.join(DIR, "kustomization.yaml"), "utf8"))[0]!.toJS() as Obj;
  expect([...kustomization.resources].sort()).toEqual(files.filter((f) => !["kustomization.yaml", "secret.example.yaml", "agent.yaml"].includes(f)).sort());
  expect(kustomization.images).toEqual([expect.objectContaining({ name: "scan-registry" })]);
});

test("when the Deployment runs, then it has 2 replicas, /healthz liveness and /readyz readiness, resources and a locked-down security context", () => {
  const deployment = one("Deployment", "scan-registry");
  expect(deployment.spec.replicas).toBe(2);
  const pod = deployment.spec.template.spec;
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  expect(pod.containers).toHaveLength(1);
  const c = pod.containers[0];
  expect(c.command).toEqual(["node", "dist/main.js", "serve"]);
  expect(c.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" });
  expect(c.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" });
  expect(c.ports).toContainEqual({ name: "http", containerPort: 8080, protocol: "TCP" });
  expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  expect(c.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  expect(c.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  const tmpMount = c.volumeMounts.find((m: Obj) => m.mountPath === "/tmp");
  expect(pod.volumes).toContainEqual({ name: tmpMount.name, emptyDir: expect.any(Object) });
});

test("when the Deployment and the migration Job start, then DATABASE_URL comes from the Secret that the example defines", () => {
  const secret = one("Secret", "scan-registry");
  const job = one("Job", "scan-registry-migrate");
  expect(job.spec.template.spec.containers[0].command).toEqual(["node", "dist/main.js", "migrate"]);
  for (const workload of [one("Deployment", "scan-registry"), job]) {
    const env = workload.spec.template.spec.containers[0].env as Obj[];
    const databaseUrl = env.find((e) => e.name === "DATABASE_URL")!;
    expect(databaseUrl.value).toBeUndefined();
    expect(databaseUrl.valueFrom.secretKeyRef).toEqual({ name: secret.metadata.name, key: "database-url" });
    expect(Object.keys(secret.stringData)).toContain(databaseUrl.valueFrom.secretKeyRef.key);
    expect(workload.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(workload.spec.template.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  }
  expect(secret.stringData["database-url"]).toMatch(/^postgresql:\/\//);
});

test("when Kyverno calls the Service, then the NetworkPolicy admits the kyverno namespace on the service port, and the selectors meet the pods", () => {
  const deployment = one("Deployment", "scan-registry");
  const podLabels = deployment.spec.template.metadata.labels;
  const service = one("Service", "scan-registry");
  const policy = one("NetworkPolicy");
  const pdb = one("PodDisruptionBudget");
  expect(service.metadata.namespace).toBe("scan-registry"); // the policies call http://scan-registry.scan-registry.svc:8080
  expect(service.spec.ports).toContainEqual(expect.objectContaining({ port: 8080, targetPort: "http" }));
  for (const selector of [service.spec.selector, policy.spec.podSelector.matchLabels, pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels])
    expect(podLabels).toMatchObject(selector);
  expect(policy.spec.policyTypes).toContain("Ingress");
  expect(policy.spec.ingress).toHaveLength(1);
  expect(policy.spec.ingress[0].from).toContainEqual({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kyverno" } } });
  expect(policy.spec.ingress[0].ports).toEqual([{ protocol: "TCP", port: 8080 }]);
});

test("when nodes are drained, then the PodDisruptionBudget keeps at least one of the two replicas", () => {
  const pdb = one("PodDisruptionBudget");
  expect(pdb.spec.minAvailable ?? 2 - pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
  expect(pdb.spec.minAvailable ?? 2 - pdb.spec.maxUnavailable).toBeLessThan(one("Deployment", "scan-registry").spec.replicas);
});

test("when LOOKUP_AUTH=kubernetes is chosen, then the pods run as a ServiceAccount bound to system:auth-delegator for TokenReview", () => {
  const account = one("ServiceAccount", "scan-registry");
  const binding = one("ClusterRoleBinding", "scan-registry-token-review");
  expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" });
  expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace }]);
  expect(one("Deployment", "scan-registry").spec.template.spec.serviceAccountName).toBe(account.metadata.name);
  const lookupAuth = one("Deployment", "scan-registry").spec.template.spec.containers[0].env.find((e: Obj) => e.name === "LOOKUP_AUTH");
  expect(["token", "kubernetes", "none"]).toContain(lookupAuth.value);
});

test("when the namespace is created, then every namespaced manifest lives in it", () => {
  const namespace = one("Namespace").metadata.name;
  for (const m of manifests.filter((x) => !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(x.kind))) expect(m.metadata.namespace).toBe(namespace);
});

describe("agent.yaml", () => {
  const agentManifests = manifests.filter((m) => m.__file === "agent.yaml");
  const agentOne = (kind: string, name: string): Obj => {
    const found = agentManifests.filter((m) => m.kind === kind && m.metadata.name === name);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  test("when the agent's RBAC is read, then it may only read Pods, and list/patch namespaces through a separate, optional role", () => {
    expect(agentManifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      "ClusterRole/scan-registry-agent",
      "ClusterRole/scan-registry-agent-namespace-labels",
      "ClusterRoleBinding/scan-registry-agent",
      "ClusterRoleBinding/scan-registry-agent-namespace-labels",
      "Deployment/scan-registry-agent",
      "ServiceAccount/scan-registry-agent",
    ]);
    expect(agentOne("ClusterRole", "scan-registry-agent").rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    expect(agentOne("ClusterRole", "scan-registry-agent-namespace-labels").rules).toEqual([{ apiGroups: [""], resources: ["namespaces"], verbs: ["list", "patch"] }]);
    const account = agentOne("ServiceAccount", "scan-registry-agent");
    for (const name of ["scan-registry-agent", "scan-registry-agent-namespace-labels"]) {
      const binding = agentOne("ClusterRoleBinding", name);
      expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name });
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace }]);
    }
    // Nothing else anywhere: no wildcard, no secrets, no write on Pods.
    const verbs = agentManifests.filter((m) => m.kind === "ClusterRole").flatMap((r) => r.rules.flatMap((rule: Obj) => rule.resources.flatMap((res: string) => rule.verbs.map((v: string) => `${res}:${v}`))));
    expect(verbs.sort()).toEqual(["namespaces:list", "namespaces:patch", "pods:get", "pods:list", "pods:watch"]);
  });

  test("when the agent's Deployment runs, then it is one non-root replica with a read-only root filesystem, resources, its ServiceAccount and the registry token from a Secret", () => {
    const deployment = agentOne("Deployment", "scan-registry-agent");
    expect(deployment.spec.replicas).toBe(1);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe("scan-registry-agent");
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(deployment.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "scan-registry", "app.kubernetes.io/component": "agent" });
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const [c, ...others] = pod.containers;
    expect(others).toEqual([]);
    expect(c.command).toEqual(["node", "dist/main.js", "agent", "--cluster", "$(CLUSTER_NAME)", "--label-namespaces"]);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e]));
    expect(env.CLUSTER_NAME.value).toMatch(/^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/);
    expect(env.SCAN_REGISTRY_URL.value).toMatch(/^https?:\/\//);
    expect(env.SCAN_REGISTRY_TOKEN.value).toBeUndefined();
    expect(env.SCAN_REGISTRY_TOKEN.valueFrom.secretKeyRef).toEqual({ name: "scan-registry-agent", key: "token" });
  });

  test("when the agent runs in the registry's own cluster, then the NetworkPolicy admits the agent's Pods to the service port", () => {
    const policy = one("NetworkPolicy");
    const agentLabels = agentOne("Deployment", "scan-registry-agent").spec.template.metadata.labels;
    const peer = policy.spec.ingress[0].from.find((p: Obj) => p.podSelector && !p.namespaceSelector);
    expect(agentLabels).toMatchObject(peer.podSelector.matchLabels);
    expect(peer.podSelector.matchLabels["app.kubernetes.io/component"]).toBe("agent");
  });
});
