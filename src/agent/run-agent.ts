/**
 * `scan-registry agent`: a Pod informer (pod-informer.ts) feeding a snapshot publisher (snapshot-publisher.ts), a
 * periodic resync, and with --label-namespaces a namespace labeller (namespace-labeller.ts). Three loops that each
 * back off on their own: the Kubernetes API being away stops nothing but the informer, the registry being away stops
 * nothing but the publisher and the labeller. `stop()` (SIGTERM) ends them all at once: a backoff wait, a watch
 * stream and an idle wait are interrupted, an in-flight request is abandoned.
 */
import type { Logger } from "../logger";
import { Backoff, unlessAborted } from "./backoff";
import type { KubernetesApi } from "./kubernetes-api";
import { reconcileNamespaceLabels } from "./namespace-labeller";
import { PodInformer } from "./pod-informer";
import type { RegistryClient } from "./registry-client";
import { SnapshotPublisher } from "./snapshot-publisher";

export interface AgentSettings {
  cluster: string;
  labelNamespaces: boolean;
  /** Coalescing window for changes. */
  debounceMs: number;
  /** The cache is re-sent this often even without changes. */
  resyncMs: number;
  /** With labelNamespaces: labels are reconciled this often (and after every snapshot). */
  labelIntervalMs: number;
  /** Longest backoff between retries. */
  maxBackoffMs: number;
  pageSize: number;
  watchTimeoutSeconds: number;
  requestTimeoutMs: number;
}

export interface RunningAgent {
  /** Resolves when every loop has ended. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export function startAgent(settings: AgentSettings, kubernetes: KubernetesApi, registry: RegistryClient, log: Logger): RunningAgent {
  const controller = new AbortController();
  const { signal } = controller;
  const backoff = () => new Backoff({ initialMs: Math.min(500, settings.maxBackoffMs), maxMs: settings.maxBackoffMs });

  let labelsWanted: (() => void) | undefined;
  const requestLabels = () => labelsWanted?.();

  let informer: PodInformer;
  const publisher = new SnapshotPublisher(
    () => informer.snapshot(),
    async (body, reason) => {
      const answer = await registry.postInventory(settings.cluster, body);
      log.info(
        {
          reason,
          pods: body.items.length,
          containers: answer.containers,
          running: answer.running,
          gone: answer.gone,
          unresolved: answer.unresolved,
          violationsOpened: answer.violations_opened,
          violationsResolved: answer.violations_resolved,
        },
        "snapshot sent",
      );
      requestLabels();
    },
    { debounceMs: settings.debounceMs, backoff: backoff() },
    log,
    signal,
  );
  informer = new PodInformer(
    kubernetes,
    { pageSize: settings.pageSize, watchTimeoutSeconds: settings.watchTimeoutSeconds, requestTimeoutMs: settings.requestTimeoutMs, backoff: backoff() },
    {
      synced: () => publisher.request("listed"),
      changed: () => publisher.request("changed"),
      lost: () => undefined,
    },
    log,
    signal,
  );

  const resync = setInterval(() => {
    if (informer.synced) publisher.request("resync");
  }, settings.resyncMs);
  resync.unref();

  const loops = [informer.run(), publisher.run()];
  if (settings.labelNamespaces) loops.push(labelLoop());

  /** Reconciles labels when asked (after each accepted snapshot) and every labelIntervalMs; backs off on failure. */
  async function labelLoop(): Promise<void> {
    const labelBackoff = backoff();
    let wanted = false;
    let notBefore = 0; // a backoff after a failure holds requests back too
    let nextAt = Date.now() + settings.labelIntervalMs;
    let wake: (() => void) | undefined;
    labelsWanted = () => {
      wanted = true;
      wake?.();
    };
    while (!signal.aborted) {
      const now = Date.now();
      const dueAt = wanted ? Math.min(nextAt, Math.max(notBefore, now)) : nextAt;
      if (now < dueAt) {
        await new Promise<void>((resolve) => {
          const done = () => {
            wake = undefined;
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, dueAt - now);
          wake = done;
          signal.addEventListener("abort", done, { once: true });
        });
        continue;
      }
      wanted = false;
      try {
        const outcome = await unlessAborted(reconcileNamespaceLabels(settings.cluster, registry, kubernetes, log, settings.requestTimeoutMs), signal);
        labelBackoff.reset();
        notBefore = 0;
        nextAt = Date.now() + settings.labelIntervalMs;
        log.debug(outcome, "namespace labels reconciled");
      } catch (error) {
        if (signal.aborted) break;
        const delay = labelBackoff.next();
        notBefore = nextAt = Date.now() + delay;
        log.warn({ err: (error as Error).message, status: (error as { status?: number }).status, retryInMs: delay }, "could not reconcile namespace labels; retrying after a backoff");
      }
    }
  }

  const done = Promise.all(loops).then(() => undefined);
  return {
    done,
    async stop() {
      clearInterval(resync);
      controller.abort();
      await done;
    },
  };
}
