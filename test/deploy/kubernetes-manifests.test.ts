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
  const { __file, ...deployment } = structuredClone(one("Deployment"));
  deployment.spec.replicas = "two";
  deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = "yes";
  expect(() => new (modelFor("apps/v1", "Deployment"))(deployment).validate()).toThrow(/replicas|readOnlyRootFilesystem/);
});

test("when the kustomization is applied, then it includes every manifest except the example Secret", () => {
  const kustomization = parseAllDocuments(fs.readFileSync(path.join(DIR, "kustomization.yaml"), "utf8"))[0]!.toJS() as Obj;
  expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== "kustomization.yaml" && f !== "secret.example.yaml").sort());
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
  expect(pdb.spec.minAvailable ?? 2 - pdb.spec.maxUnavailable).toBeLessThan(one("Deployment").spec.replicas);
});

test("when LOOKUP_AUTH=kubernetes is chosen, then the pods run as a ServiceAccount bound to system:auth-delegator for TokenReview", () => {
  const account = one("ServiceAccount", "scan-registry");
  const binding = one("ClusterRoleBinding");
  expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" });
  expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace }]);
  expect(one("Deployment").spec.template.spec.serviceAccountName).toBe(account.metadata.name);
  const lookupAuth = one("Deployment").spec.template.spec.containers[0].env.find((e: Obj) => e.name === "LOOKUP_AUTH");
  expect(["token", "kubernetes", "none"]).toContain(lookupAuth.value);
});

test("when the namespace is created, then every namespaced manifest lives in it", () => {
  const namespace = one("Namespace").metadata.name;
  for (const m of manifests.filter((x) => !["Namespace", "ClusterRoleBinding"].includes(x.kind))) expect(m.metadata.namespace).toBe(namespace);
});
