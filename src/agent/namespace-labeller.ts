/**
 * `agent --label-namespaces`: keeps `scan-registry.io/runtime-violations=<count>` on every namespace of the cluster
 * with open runtime violations, and removes it from namespaces that have none, so that remediation tooling can select
 * them (`kubectl get ns -l scan-registry.io/runtime-violations`).
 *
 * The counts are the registry's (GET /v1/violations?state=open&cluster=…, every page): violations also open and
 * resolve there without any Pod changing (a rescan, a policy change, an exception expiring), so the agent reconciles
 * after every snapshot and on a timer. The namespaces that carry the label now are read from the API
 * (`list` namespaces with that label selector), so a label left by an earlier run, or on a namespace whose Pods are
 * all gone, is removed too. Changes are JSON merge patches (`PATCH /api/v1/namespaces/{ns}`, a `null` label removes
 * it); a namespace already right is not patched.
 */
import type { Logger } from "../logger";
import type { KubernetesApi } from "./kubernetes-api";
import { KubernetesApiError } from "./kubernetes-api";
import type { RegistryClient } from "./registry-client";

const VIOLATIONS_LABEL = "scan-registry.io/runtime-violations";

export interface LabelChange {
  namespace: string;
  /** The label's new value, or null to remove it. */
  value: string | null;
}

/** The patches that make `current` (namespace → label value) agree with `open` (namespace → open violations). Pure. */
export function labelChanges(open: ReadonlyMap<string, number>, current: ReadonlyMap<string, string>): LabelChange[] {
  const changes: LabelChange[] = [];
  for (const [namespace, count] of [...open].sort(([a], [b]) => a.localeCompare(b))) {
    if (count > 0 && current.get(namespace) !== String(count)) changes.push({ namespace, value: String(count) });
  }
  for (const namespace of [...current.keys()].sort()) {
    if (!((open.get(namespace) ?? 0) > 0)) changes.push({ namespace, value: null });
  }
  return changes;
}

export interface LabelOutcome {
  set: number;
  removed: number;
  /** Namespaces with violations that no longer exist in the cluster (404): nothing to label. */
  missing: number;
}

export async function reconcileNamespaceLabels(
  cluster: string,
  registry: RegistryClient,
  kubernetes: KubernetesApi,
  log: Logger,
  timeoutMs: number,
): Promise<LabelOutcome> {
  const open = await registry.openViolationsByNamespace(cluster);
  const current = await kubernetes.namespacesWithLabel(VIOLATIONS_LABEL, timeoutMs);
  const outcome: LabelOutcome = { set: 0, removed: 0, missing: 0 };
  for (const change of labelChanges(open, current)) {
    try {
      await kubernetes.patchNamespaceLabel(change.namespace, VIOLATIONS_LABEL, change.value, timeoutMs);
    } catch (error) {
      if (error instanceof KubernetesApiError && error.status === 404) {
        outcome.missing += 1;
        continue;
      }
      throw error;
    }
    if (change.value === null) outcome.removed += 1;
    else outcome.set += 1;
    log.info({ namespace: change.namespace, label: VIOLATIONS_LABEL, value: change.value }, change.value === null ? "removed namespace label" : "set namespace label");
  }
  return outcome;
}
