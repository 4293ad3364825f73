/**
 * What the agent keeps of a Pod and sends in a snapshot: the fields that say which images run where (name,
 * namespace, labels, owner references, the containers' names and images, their statuses' image IDs and states) and
 * nothing else. A Pod from the API carries managedFields, annotations, env, volumes and more: dropped here, a 20,000-Pod
 * snapshot stays a few megabytes, and the agent's cache stays small. The result is still a valid Pod, so a snapshot
 * is a PodList as `kubectl get pods -A -o json` prints it, only thinner.
 *
 * Pure: no I/O, no Kubernetes client.
 */

type Json = Record<string, unknown>;

export interface ProjectedContainer {
  name: string;
  image?: string;
}

export interface ProjectedContainerStatus {
  name: string;
  image?: string;
  imageID?: string;
  state?: { running?: Json; waiting?: Json; terminated?: Json };
}

export interface ProjectedPod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }>;
  };
  spec: { nodeName?: string; containers: ProjectedContainer[]; initContainers?: ProjectedContainer[]; ephemeralContainers?: ProjectedContainer[] };
  status: {
    phase?: string;
    containerStatuses?: ProjectedContainerStatus[];
    initContainerStatuses?: ProjectedContainerStatus[];
    ephemeralContainerStatuses?: ProjectedContainerStatus[];
  };
}

export interface PodListBody {
  apiVersion: "v1";
  kind: "PodList";
  metadata: { resourceVersion?: string };
  items: ProjectedPod[];
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * Timestamps as the API writes them (RFC 3339, whole seconds). The client's list call hands Date objects, its watch
 * stream text; both must project alike, or every first event after a list would look like a change.
 */
const time = (v: unknown): unknown => (v instanceof Date ? v.toISOString().replace(/\.\d{3}Z$/, "Z") : v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function pick<T extends Json>(entries: Array<[string, unknown]>): T {
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as T;
}

function containers(list: unknown): ProjectedContainer[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.filter(isObject).map((c) => pick<ProjectedContainer & Json>([["name", str(c.name) ?? ""], ["image", str(c.image)]]));
}

/** The state's kind and the few fields that tell a restart or a finished container apart; messages are dropped. */
function state(v: unknown): ProjectedContainerStatus["state"] {
  if (!isObject(v)) return undefined;
  const part = (s: unknown, keys: string[]): Json | undefined => (isObject(s) ? pick(keys.map((k) => [k, time(s[k])])) : undefined);
  const projected = pick<NonNullable<ProjectedContainerStatus["state"]> & Json>([
    ["running", part(v.running, ["startedAt"])],
    ["waiting", part(v.waiting, ["reason"])],
    ["terminated", part(v.terminated, ["reason", "exitCode", "startedAt", "finishedAt"])],
  ]);
  return Object.keys(projected).length ? projected : undefined;
}

function statuses(list: unknown): ProjectedContainerStatus[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list
    .filter(isObject)
    .map((s) => pick<ProjectedContainerStatus & Json>([["name", str(s.name) ?? ""], ["image", str(s.image)], ["imageID", str(s.imageID)], ["state", state(s.state)]]));
}

function labels(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const entries = Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string");
  return entries.length ? Object.fromEntries(entries) : undefined;
}

function ownerReferences(v: unknown): ProjectedPod["metadata"]["ownerReferences"] {
  if (!Array.isArray(v)) return undefined;
  const refs = v
    .filter(isObject)
    .map((o) => pick<NonNullable<ProjectedPod["metadata"]["ownerReferences"]>[number] & Json>([
      ["apiVersion", str(o.apiVersion)],
      ["kind", str(o.kind) ?? ""],
      ["name", str(o.name) ?? ""],
      ["uid", str(o.uid)],
      ["controller", typeof o.controller === "boolean" ? o.controller : undefined],
    ]));
  return refs.length ? refs : undefined;
}

/** The key a Pod is cached under: namespace/name (what the API server keys Pods by). */
export function podKey(pod: unknown): string | undefined {
  if (!isObject(pod) || !isObject(pod.metadata)) return undefined;
  const name = str(pod.metadata.name);
  if (!name) return undefined;
  return `${str(pod.metadata.namespace) ?? ""}/${name}`;
}

/** The Pod's resourceVersion (watch events carry the latest one; a BOOKMARK carries only this). */
export function resourceVersionOf(object: unknown): string | undefined {
  return isObject(object) && isObject(object.metadata) ? str(object.metadata.resourceVersion) : undefined;
}

/** The thin Pod the agent keeps and sends; undefined for something that is not a Pod with a name. */
export function projectPod(pod: unknown): ProjectedPod | undefined {
  if (!isObject(pod) || !isObject(pod.metadata) || !str(pod.metadata.name)) return undefined;
  const meta = pod.metadata;
  const spec = isObject(pod.spec) ? pod.spec : {};
  const status = isObject(pod.status) ? pod.status : {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: pick([
      ["name", str(meta.name)],
      ["namespace", str(meta.namespace) ?? "default"],
      ["uid", str(meta.uid)],
      ["labels", labels(meta.labels)],
      ["ownerReferences", ownerReferences(meta.ownerReferences)],
    ]),
    spec: pick([
      ["nodeName", str(spec.nodeName)],
      ["containers", containers(spec.containers) ?? []],
      ["initContainers", containers(spec.initContainers)],
      ["ephemeralContainers", containers(spec.ephemeralContainers)],
    ]),
    status: pick([
      ["phase", str(status.phase)],
      ["containerStatuses", statuses(status.containerStatuses)],
      ["initContainerStatuses", statuses(status.initContainerStatuses)],
      ["ephemeralContainerStatuses", statuses(status.ephemeralContainerStatuses)],
    ]),
  };
}

/** True when two projections say the same thing (a MODIFIED event that only touched dropped fields changes nothing). */
export function samePod(a: ProjectedPod | undefined, b: ProjectedPod | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** A snapshot body: every cached Pod, in a stable order (namespace, name). */
export function podList(pods: Iterable<ProjectedPod>, resourceVersion?: string): PodListBody {
  const items = [...pods].sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
  return { apiVersion: "v1", kind: "PodList", metadata: resourceVersion ? { resourceVersion } : {}, items };
}
