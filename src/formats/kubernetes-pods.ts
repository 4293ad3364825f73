/**
 * A Kubernetes `PodList`, or a `List` of Pods, exactly as `kubectl get pods -A -o json` (or the API's list call)
 * prints it, decoded into the containers it shows running. Only the fields read here are validated; every other
 * field (and every field a later Kubernetes adds) passes through untouched.
 *
 * - A Pod that has finished (phase Succeeded or Failed) runs nothing and is skipped.
 * - Every container of spec.containers, spec.initContainers and spec.ephemeralContainers is a container of the
 *   Pod's workload (an ephemeral container only until it terminates). Its digest is the one in the matching status'
 *   `imageID`; a Pod that has no status yet (Pending) or a runtime that reports only the config ID leaves it
 *   unresolved, unless the Pod spec pins the image by digest.
 */
import { z } from "zod";
import { DomainError, fieldErrorsFromZod, invalid } from "../domain/errors";
import {
  digestFromImageId,
  digestInReference,
  mergeObservations,
  NAMESPACE_PATTERN,
  normaliseImageRef,
  workloadOfPod,
  type ContainerObservation,
  type ContainerType,
} from "../domain/workload";

const name = z.string().min(1).max(253);

const containerSpecSchema = z.looseObject({ name, image: z.string().max(4096).nullish() });

const containerStatusSchema = z.looseObject({
  name,
  image: z.string().max(4096).nullish(),
  imageID: z.string().max(4096).nullish(),
  state: z.looseObject({ terminated: z.unknown().optional() }).nullish(),
});

const ownerReferenceSchema = z.looseObject({ kind: z.string().min(1).max(253), name, controller: z.boolean().nullish() });

export const podSchema = z.looseObject({
  apiVersion: z.literal("v1").optional(),
  kind: z.literal("Pod", { error: "must be Pod: the list may hold Pods only" }).optional(),
  metadata: z.looseObject({
    name,
    namespace: z.string().regex(NAMESPACE_PATTERN, "not a namespace name").optional(),
    labels: z.record(z.string(), z.string()).nullish(),
    ownerReferences: z.array(ownerReferenceSchema).nullish(),
  }),
  spec: z.looseObject({
    containers: z.array(containerSpecSchema).min(1),
    initContainers: z.array(containerSpecSchema).nullish(),
    ephemeralContainers: z.array(containerSpecSchema).nullish(),
  }),
  status: z
    .looseObject({
      phase: z.string().nullish(),
      containerStatuses: z.array(containerStatusSchema).nullish(),
      initContainerStatuses: z.array(containerStatusSchema).nullish(),
      ephemeralContainerStatuses: z.array(containerStatusSchema).nullish(),
    })
    .nullish(),
});
type Pod = z.output<typeof podSchema>;

const listEnvelopeSchema = z.looseObject({
  apiVersion: z.literal("v1", { error: "must be v1" }),
  kind: z.enum(["PodList", "List"], { error: "must be PodList or List" }),
  items: z.array(z.unknown()),
});

export interface DecodedPodList {
  /** Pods in the list, finished ones included. */
  pods: number;
  /** One per workload container and image, with the number of Pods running it. */
  containers: ContainerObservation[];
}

export interface PodListLimits {
  /** More Pods than this is refused as too large (413). */
  maxPods: number;
  /** When the snapshot covers one namespace: every Pod must be in it (a Pod without one is taken to be). */
  namespace?: string | undefined;
}

const HOW = "The body must be a PodList (or a List of Pods) as `kubectl get pods -A -o json` prints it";

function refuse(errors: ReturnType<typeof fieldErrorsFromZod>): never {
  const first = errors[0];
  throw invalid("invalid_pod_list", `${HOW}${first ? ` (first problem at ${first.path || "the top level"}: ${first.message})` : ""}.`, errors);
}

/** Validates and decodes a PodList; a shape error anywhere refuses the whole list (422 with paths). */
export function decodePodList(json: unknown, limits: PodListLimits): DecodedPodList {
  const envelope = listEnvelopeSchema.safeParse(json);
  if (!envelope.success) refuse(fieldErrorsFromZod(envelope.error.issues));
  const items = envelope.data.items;
  if (items.length > limits.maxPods) {
    throw new DomainError(
      "too_large",
      "too_many_pods",
      `The snapshot holds ${items.length} Pods, more than the limit of ${limits.maxPods} (MAX_INVENTORY_PODS); send one snapshot per namespace (?namespace=) or raise the limit.`,
      undefined,
      { limit_pods: limits.maxPods, pods: items.length },
    );
  }
  const errors: ReturnType<typeof fieldErrorsFromZod> = [];
  const observations: ContainerObservation[] = [];
  for (let i = 0; i < items.length && errors.length < 50; i++) {
    const parsed = podSchema.safeParse(items[i]);
    if (!parsed.success) {
      errors.push(...fieldErrorsFromZod(parsed.error.issues, `items.${i}`));
      continue;
    }
    const pod = parsed.data;
    const namespace = pod.metadata.namespace ?? limits.namespace;
    if (namespace === undefined) {
      errors.push({ path: `items.${i}.metadata.namespace`, message: "required (or name the namespace with ?namespace=)" });
      continue;
    }
    if (limits.namespace !== undefined && namespace !== limits.namespace) {
      errors.push({ path: `items.${i}.metadata.namespace`, message: `must be ${limits.namespace}: the snapshot is of that namespace only` });
      continue;
    }
    observations.push(...containersOfPod(pod, namespace));
  }
  if (errors.length > 0) refuse(errors.slice(0, 50));
  return { pods: items.length, containers: mergeObservations(observations) };
}

type ContainerSpec = z.output<typeof containerSpecSchema>;
type ContainerStatus = z.output<typeof containerStatusSchema>;

function containersOfPod(pod: Pod, namespace: string): ContainerObservation[] {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return [];
  const workload = workloadOfPod({ name: pod.metadata.name, labels: pod.metadata.labels, ownerReferences: pod.metadata.ownerReferences });
  const found: ContainerObservation[] = [];
  const add = (specs: readonly ContainerSpec[] | null | undefined, statuses: readonly ContainerStatus[] | null | undefined, type: ContainerType) => {
    for (const spec of specs ?? []) {
      const status = statuses?.find((s) => s.name === spec.name);
      if (type === "ephemeral" && status?.state?.terminated !== undefined) continue;
      const { imageRef, repository } = normaliseImageRef(spec.image ?? status?.image);
      found.push({
        namespace,
        kind: workload.kind,
        name: workload.name,
        container: spec.name,
        containerType: type,
        imageRef,
        repository,
        imageDigest: digestFromImageId(status?.imageID) ?? digestInReference(status?.image) ?? digestInReference(spec.image),
        pods: 1,
      });
    }
  };
  add(pod.spec.containers, pod.status?.containerStatuses, "regular");
  add(pod.spec.initContainers, pod.status?.initContainerStatuses, "init");
  add(pod.spec.ephemeralContainers, pod.status?.ephemeralContainerStatuses, "ephemeral");
  return found;
}
