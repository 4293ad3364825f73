/**
 * Where images run, as pure rules: which digest a container runs (from the runtime's imageID), which workload a Pod
 * belongs to (its top controller), and the names a cluster may have. Nothing here touches the database.
 */
import { DIGEST_PATTERN, formatImageReference, parseImageReference } from "./image-reference";

const CONTAINER_TYPES = ["regular", "init", "ephemeral"] as const;
export type ContainerType = (typeof CONTAINER_TYPES)[number];

const INVENTORY_SOURCES = ["inventory", "agent", "trivy-operator"] as const;
export type InventorySource = (typeof INVENTORY_SOURCES)[number];

/** What opened or resolved a runtime violation. */
export const VIOLATION_CAUSES = ["report", "policy", "exception", "expiry", "scan_age", "inventory"] as const;
export type ViolationCause = (typeof VIOLATION_CAUSES)[number];

/**
 * Cluster names: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63
 * characters (a DNS-1123 label, dots allowed so `prod.eu-west-1` works). They appear in metrics labels and URLs.
 */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/;
/** Kubernetes namespace names are DNS-1123 labels. */
export const NAMESPACE_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The cluster name used when a source does not name one (Trivy Operator's webhook without ?cluster=). */
export const DEFAULT_CLUSTER = "default";

/**
 * The manifest digest in a container status' `imageID`, in every form the runtimes write:
 * `docker-pullable://repo@sha256:…` (dockershim), `repo@sha256:…` (containerd, CRI-O), `docker://sha256:…` and a
 * bare `sha256:…` (an image config ID: not what admission sees, so unresolved), or "" while the image is pulled.
 */
export function digestFromImageId(imageId: string | null | undefined): string | null {
  if (!imageId) return null;
  const text = imageId.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const at = text.lastIndexOf("@");
  if (at < 0) return null;
  const digest = text.slice(at + 1);
  return DIGEST_PATTERN.test(digest) ? digest : null;
}

/** The digest pinned in an image reference (`repo@sha256:…`), else null. */
export function digestInReference(ref: string | null | undefined): string | null {
  if (!ref) return null;
  return parseImageReference(ref)?.digest ?? null;
}

/** An image reference Docker-normalised (`nginx` → `docker.io/library/nginx:latest`), or as written if unparseable. */
export function normaliseImageRef(ref: string | null | undefined): { imageRef: string | null; repository: string | null } {
  const text = ref?.trim();
  if (!text) return { imageRef: null, repository: null };
  const parsed = parseImageReference(text);
  return parsed ? { imageRef: formatImageReference(parsed), repository: parsed.repository } : { imageRef: text.slice(0, 1024), repository: null };
}

export interface OwnerReference {
  kind: string;
  name: string;
  controller?: boolean | null | undefined;
}

export interface WorkloadIdentity {
  kind: string;
  name: string;
}

/** CronJob names its Jobs `<cronjob>-<scheduled time in minutes since the epoch>`: 8 digits from 1990 to 2160. */
const CRONJOB_JOB = /^(.+)-(\d{8,10})$/;

/**
 * The workload a Pod belongs to: its controller (the ownerReference with controller: true, else the first one),
 * lifted to the top controller where the name says so — a ReplicaSet named `<deployment>-<pod-template-hash>` is
 * that Deployment, a Job named `<cronjob>-<scheduled minutes>` that CronJob. A Pod without a controller, or owned by
 * a Node (a static Pod's mirror), is its own workload.
 */
export function workloadOfPod(pod: { name: string; labels?: Record<string, string> | null; ownerReferences?: readonly OwnerReference[] | null }): WorkloadIdentity {
  const owners = pod.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller === true) ?? owners[0];
  if (!owner || !owner.kind || !owner.name || owner.kind === "Node") return { kind: "Pod", name: pod.name };
  // null, not undefined: a Pod tells its hash, so a ReplicaSet of a Pod without one is not a Deployment's.
  return topController(owner, pod.labels?.["pod-template-hash"] ?? null);
}

/**
 * A controller lifted to its own controller by name. Without the Pod's pod-template-hash label (Trivy Operator's
 * labels name the ReplicaSet only), a ReplicaSet name ending in `-<hash>` is taken as its Deployment when the hash
 * looks like one Kubernetes generates (the "safe" alphabet of bcdfghjklmnpqrstvwxz2456789, 5 to 10 characters).
 */
function topController(owner: { kind: string; name: string }, podTemplateHash?: string | null): WorkloadIdentity {
  if (owner.kind === "ReplicaSet") {
    if (podTemplateHash) {
      const suffix = `-${podTemplateHash}`;
      if (owner.name.endsWith(suffix) && owner.name.length > suffix.length) return { kind: "Deployment", name: owner.name.slice(0, -suffix.length) };
      return { kind: owner.kind, name: owner.name };
    }
    const m = /^(.+)-([bcdfghjklmnpqrstvwxz2456789]{5,10})$/.exec(owner.name);
    if (m && podTemplateHash === undefined) return { kind: "Deployment", name: m[1]! };
    return { kind: owner.kind, name: owner.name };
  }
  if (owner.kind === "Job") {
    const m = CRONJOB_JOB.exec(owner.name);
    if (m) return { kind: "CronJob", name: m[1]! };
  }
  return { kind: owner.kind, name: owner.name };
}

/** A container of a workload, without the image: what a Trivy Operator report's labels name. */
export interface WorkloadContainerRef {
  namespace: string;
  kind: string;
  name: string;
  container: string;
}

/**
 * The workload container a Trivy Operator resource describes, from its labels `trivy-operator.resource.kind|name|
 * namespace` and `trivy-operator.container.name`; the operator names the ReplicaSet or Job it scanned, lifted to its
 * Deployment or CronJob as for Pods. null when a label is missing or not a valid name (a cluster-scoped resource).
 */
export function workloadFromOperatorLabels(labels: Record<string, unknown> | null | undefined): WorkloadContainerRef | null {
  const get = (key: string) => {
    const v = labels?.[key];
    return typeof v === "string" && v.length > 0 && v.length <= 253 ? v : null;
  };
  const kind = get("trivy-operator.resource.kind");
  const name = get("trivy-operator.resource.name");
  const namespace = get("trivy-operator.resource.namespace");
  const container = get("trivy-operator.container.name");
  if (!kind || !name || !namespace || !container || !NAMESPACE_PATTERN.test(namespace)) return null;
  return { namespace, container, ...topController({ kind, name }) };
}

/** One container of one workload running (or about to run) one image, as a snapshot or report saw it. */
export interface ContainerObservation {
  namespace: string;
  kind: string;
  name: string;
  container: string;
  containerType: ContainerType;
  imageRef: string | null;
  repository: string | null;
  /** null = unresolved (no manifest digest known). */
  imageDigest: string | null;
  /** Pods of the workload running it; null when the source does not count Pods. */
  pods: number | null;
}

/** The identity of a running row: a workload's container and the image it runs (digest, else the reference). */
function observationKey(o: Pick<ContainerObservation, "namespace" | "kind" | "name" | "container" | "imageDigest" | "imageRef">): string {
  return JSON.stringify([o.namespace, o.kind, o.name, o.container, o.imageDigest ?? `ref:${o.imageRef ?? ""}`]);
}

/**
 * Folds per-Pod observations into one per workload container and image, counting Pods: the three replicas of a
 * Deployment are one row with pods = 3. A regular container wins over an init container of the same name.
 */
export function mergeObservations(observations: Iterable<ContainerObservation>): ContainerObservation[] {
  const merged = new Map<string, ContainerObservation>();
  for (const o of observations) {
    const key = observationKey(o);
    const seen = merged.get(key);
    if (!seen) merged.set(key, { ...o });
    else {
      seen.pods = seen.pods === null || o.pods === null ? null : seen.pods + o.pods;
      if (seen.containerType !== "regular" && o.containerType === "regular") seen.containerType = "regular";
    }
  }
  return [...merged.values()];
}
