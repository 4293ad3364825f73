/**
 * Pods shaped exactly as `kubectl get pods -A -o json` prints them (Kubernetes 1.29–1.31, containerd and
 * dockershim runtimes): every field kubectl shows, not only those the registry reads, so a decoder that is too
 * strict about the rest fails here. Builders, because tests need many variations of a few real shapes.
 */
import crypto from "node:crypto";

export const digestOf = (seed: string) => `sha256:${crypto.createHash("sha256").update(seed).digest("hex")}`;
const uid = (seed: string) => {
  const h = crypto.createHash("md5").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

export type Runtime = "containerd" | "docker" | "containerd-config-id" | "docker-config-id";

export interface ContainerOptions {
  name: string;
  /** As the Pod spec names it, e.g. nginx:1.27 or ghcr.io/acme/api@sha256:… */
  image: string;
  /** The manifest digest the runtime resolved; omitted = the Pod has no status for it yet. */
  digest?: string | null;
  runtime?: Runtime;
  restarts?: number;
  /** The container's state: running (default), waiting (ContainerCreating / CrashLoopBackOff), terminated. */
  state?: "running" | "waiting" | "crashloop" | "terminated";
}

export interface PodOptions {
  name: string;
  namespace: string;
  owner?: { kind: string; name: string; apiVersion?: string } | null;
  labels?: Record<string, string>;
  containers: ContainerOptions[];
  initContainers?: ContainerOptions[];
  ephemeralContainers?: ContainerOptions[];
  /** Pending without statuses (not scheduled yet) unless containers have digests. */
  phase?: "Running" | "Pending" | "Succeeded" | "Failed";
  /** No status block at all except phase and conditions (a Pod the scheduler has not placed). */
  unscheduled?: boolean;
  node?: string;
}

const START = "2026-11-30T08:15:42Z";

function repoOf(image: string): string {
  const noDigest = image.split("@")[0]!;
  const lastSlash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const repo = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  const first = repo.split("/")[0]!;
  const qualified = repo.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? repo : `docker.io/${repo.includes("/") ? repo : `library/${repo}`}`;
  return qualified;
}

function imageId(c: ContainerOptions): string {
  if (!c.digest) return "";
  const configId = digestOf(`config:${c.digest}`);
  switch (c.runtime ?? "containerd") {
    case "docker":
      return `docker-pullable://${repoOf(c.image).replace(/^docker\.io\//, "").replace(/^library\//, "")}@${c.digest}`;
    case "docker-config-id":
      return `docker://${configId}`;
    case "containerd-config-id":
      return configId;
    default:
      return `${repoOf(c.image)}@${c.digest}`;
  }
}

function statusImage(c: ContainerOptions): string {
  if ((c.runtime ?? "containerd").startsWith("docker")) return c.image;
  const tag = c.image.includes("@") ? "" : c.image.slice(c.image.lastIndexOf("/") + 1).includes(":") ? `:${c.image.split(":").pop()}` : ":latest";
  return c.image.includes("@") ? c.image : `${repoOf(c.image)}${tag}`;
}

function containerSpec(c: ContainerOptions) {
  return {
    image: c.image,
    imagePullPolicy: "IfNotPresent",
    name: c.name,
    ports: [{ containerPort: 8080, name: "http", protocol: "TCP" }],
    resources: { limits: { memory: "256Mi" }, requests: { cpu: "100m", memory: "128Mi" } },
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    volumeMounts: [{ mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name: "kube-api-access-x7h2k", readOnly: true }],
  };
}

function containerStatus(c: ContainerOptions, init: boolean) {
  const containerId = `containerd://${crypto.createHash("sha256").update(c.name + c.image).digest("hex")}`;
  const state = c.state ?? (init ? "terminated" : "running");
  const terminated = { containerID: containerId, exitCode: 0, finishedAt: "2026-11-30T08:15:50Z", reason: "Completed", startedAt: "2026-11-30T08:15:45Z" };
  const base = {
    containerID: c.digest ? containerId : undefined,
    image: statusImage(c),
    imageID: imageId(c),
    lastState: (c.restarts ?? 0) > 0 ? { terminated: { ...terminated, exitCode: 137, reason: "OOMKilled" } } : {},
    name: c.name,
    ready: state === "running",
    restartCount: c.restarts ?? 0,
    started: state === "running",
    state:
      state === "running"
        ? { running: { startedAt: START } }
        : state === "terminated"
          ? { terminated }
          : state === "crashloop"
            ? { waiting: { message: `back-off 5m0s restarting failed container=${c.name}`, reason: "CrashLoopBackOff" } }
            : { waiting: { reason: "ContainerCreating" } },
  };
  if (!base.containerID) delete (base as { containerID?: string }).containerID;
  return base;
}

/** One Pod, as kubectl prints it inside a List. */
export function aPod(o: PodOptions): Record<string, unknown> {
  const labels: Record<string, string> = { ...(o.labels ?? {}) };
  const owner = o.owner ?? null;
  const phase = o.phase ?? (o.unscheduled ? "Pending" : "Running");
  const pod: Record<string, any> = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      creationTimestamp: START,
      generateName: owner ? `${owner.name}-` : undefined,
      labels,
      name: o.name,
      namespace: o.namespace,
      ownerReferences: owner
        ? [{ apiVersion: owner.apiVersion ?? "apps/v1", blockOwnerDeletion: true, controller: true, kind: owner.kind, name: owner.name, uid: uid(owner.name) }]
        : undefined,
      resourceVersion: String(100000 + (parseInt(uid(o.name).slice(0, 4), 16) % 90000)),
      uid: uid(`${o.namespace}/${o.name}`),
    },
    spec: {
      containers: o.containers.map(containerSpec),
      ...(o.initContainers ? { initContainers: o.initContainers.map(containerSpec) } : {}),
      ...(o.ephemeralContainers
        ? { ephemeralContainers: o.ephemeralContainers.map((c) => ({ image: c.image, imagePullPolicy: "IfNotPresent", name: c.name, resources: {}, stdin: true, targetContainerName: o.containers[0]!.name, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", tty: true })) }
        : {}),
      dnsPolicy: "ClusterFirst",
      enableServiceLinks: true,
      nodeName: o.unscheduled ? undefined : (o.node ?? "ip-10-0-12-34.eu-west-1.compute.internal"),
      preemptionPolicy: "PreemptLowerPriority",
      priority: 0,
      restartPolicy: owner?.kind === "Job" ? "OnFailure" : "Always",
      schedulerName: "default-scheduler",
      securityContext: {},
      serviceAccount: "default",
      serviceAccountName: "default",
      terminationGracePeriodSeconds: 30,
      tolerations: [
        { effect: "NoExecute", key: "node.kubernetes.io/not-ready", operator: "Exists", tolerationSeconds: 300 },
        { effect: "NoExecute", key: "node.kubernetes.io/unreachable", operator: "Exists", tolerationSeconds: 300 },
      ],
      volumes: [{ name: "kube-api-access-x7h2k", projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: "token" } }] } }],
    },
    status: o.unscheduled
      ? {
          conditions: [{ lastProbeTime: null, lastTransitionTime: START, message: "0/3 nodes are available: 3 Insufficient cpu.", reason: "Unschedulable", status: "False", type: "PodScheduled" }],
          phase,
          qosClass: "Burstable",
        }
      : {
          conditions: [
            { lastProbeTime: null, lastTransitionTime: START, status: "True", type: "PodReadyToStartContainers" },
            { lastProbeTime: null, lastTransitionTime: START, status: "True", type: "Initialized" },
            { lastProbeTime: null, lastTransitionTime: START, status: phase === "Running" ? "True" : "False", type: "Ready" },
            { lastProbeTime: null, lastTransitionTime: START, status: phase === "Running" ? "True" : "False", type: "ContainersReady" },
            { lastProbeTime: null, lastTransitionTime: START, status: "True", type: "PodScheduled" },
          ],
          containerStatuses: o.containers.map((c) => containerStatus(c, false)),
          ...(o.initContainers ? { initContainerStatuses: o.initContainers.map((c) => containerStatus(c, true)) } : {}),
          ...(o.ephemeralContainers ? { ephemeralContainerStatuses: o.ephemeralContainers.map((c) => containerStatus(c, false)) } : {}),
          hostIP: "10.0.12.34",
          hostIPs: [{ ip: "10.0.12.34" }],
          phase,
          podIP: "10.244.1.23",
          podIPs: [{ ip: "10.244.1.23" }],
          qosClass: "Burstable",
          startTime: START,
        },
  };
  // kubectl omits empty optional fields; JSON.stringify drops the undefined ones the same way.
  return JSON.parse(JSON.stringify(pod));
}

const HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
export function podTemplateHash(seed: string, length = 10): string {
  const bytes = crypto.createHash("sha256").update(seed).digest();
  return Array.from(bytes.subarray(0, length), (b) => HASH_ALPHABET[b % HASH_ALPHABET.length]).join("");
}
const suffix = (seed: string) => podTemplateHash(`pod:${seed}`, 5);

/** The Pods of a Deployment: owned by its ReplicaSet `<name>-<pod-template-hash>`, named `<rs>-<5 chars>`. */
export function deploymentPods(o: { name: string; namespace: string; replicas: number; containers: ContainerOptions[]; initContainers?: ContainerOptions[]; hash?: string }) {
  const hash = o.hash ?? podTemplateHash(`${o.namespace}/${o.name}/${JSON.stringify(o.containers)}`);
  const rs = `${o.name}-${hash}`;
  return Array.from({ length: o.replicas }, (_, i) =>
    aPod({
      name: `${rs}-${suffix(`${rs}/${i}`)}`,
      namespace: o.namespace,
      owner: { kind: "ReplicaSet", name: rs },
      labels: { app: o.name, "pod-template-hash": hash },
      containers: o.containers,
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
    }),
  );
}

export function statefulSetPods(o: { name: string; namespace: string; replicas: number; containers: ContainerOptions[] }) {
  return Array.from({ length: o.replicas }, (_, i) =>
    aPod({
      name: `${o.name}-${i}`,
      namespace: o.namespace,
      owner: { kind: "StatefulSet", name: o.name },
      labels: { app: o.name, "apps.kubernetes.io/pod-index": String(i), "controller-revision-hash": `${o.name}-6b8d9c7f5d`, "statefulset.kubernetes.io/pod-name": `${o.name}-${i}` },
      containers: o.containers,
    }),
  );
}

export function daemonSetPods(o: { name: string; namespace: string; nodes: number; containers: ContainerOptions[] }) {
  return Array.from({ length: o.nodes }, (_, i) =>
    aPod({
      name: `${o.name}-${suffix(`${o.name}/${i}`)}`,
      namespace: o.namespace,
      owner: { kind: "DaemonSet", name: o.name },
      labels: { "controller-revision-hash": "7c9f8d6b5", "k8s-app": o.name, "pod-template-generation": "1" },
      containers: o.containers,
      node: `node-${i}`,
    }),
  );
}

/** A CronJob's Job `<cronjob>-<scheduled minutes since the epoch>` and its Pod. */
export function cronJobPod(o: { cronJob: string; namespace: string; scheduledMinutes?: number; containers: ContainerOptions[]; phase?: PodOptions["phase"] }) {
  const job = `${o.cronJob}-${o.scheduledMinutes ?? 29_412_360}`;
  return aPod({
    name: `${job}-${suffix(job)}`,
    namespace: o.namespace,
    owner: { kind: "Job", name: job, apiVersion: "batch/v1" },
    labels: { "batch.kubernetes.io/controller-uid": uid(job), "batch.kubernetes.io/job-name": job, "controller-uid": uid(job), "job-name": job },
    containers: o.containers,
    ...(o.phase ? { phase: o.phase } : {}),
  });
}

export function jobPod(o: { job: string; namespace: string; containers: ContainerOptions[] }) {
  return aPod({
    name: `${o.job}-${suffix(o.job)}`,
    namespace: o.namespace,
    owner: { kind: "Job", name: o.job, apiVersion: "batch/v1" },
    labels: { "batch.kubernetes.io/job-name": o.job, "job-name": o.job },
    containers: o.containers,
  });
}

/** `kubectl get pods -A -o json`: a List with Pods that carry apiVersion and kind. */
export function podList(pods: Array<Record<string, unknown>>, kind: "List" | "PodList" = "List") {
  if (kind === "PodList") {
    // The API's own list: items without apiVersion/kind, the list with a resourceVersion.
    return { apiVersion: "v1", items: pods.map(({ apiVersion: _a, kind: _k, ...rest }) => rest), kind: "PodList", metadata: { resourceVersion: "1834412" } };
  }
  return { apiVersion: "v1", items: pods, kind: "List", metadata: { resourceVersion: "" } };
}
