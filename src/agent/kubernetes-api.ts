/**
 * The agent's only door to the Kubernetes API, through @kubernetes/client-node (its KubeConfig, generated CoreV1Api
 * and Watch), narrowed to the four calls the agent makes. Everything else in src/agent/ is written against the
 * `KubernetesApi` interface and never sees the library.
 *
 * @kubernetes/client-node 1.x is an ES module only, and this CLI is CommonJS compiled by tsc, which rewrites a literal
 * `import("…")` into `require("…")`. The loader below is a real dynamic import that tsc leaves alone (the specifier
 * goes through a Function), so Node loads the package as the ES module it is. Only the agent's commands call it: the
 * rest of the CLI never pays for loading the client. (jest's CommonJS runtime can load it neither way, so the agent
 * is tested as a process: test/agent/.)
 */
import type * as k8s from "@kubernetes/client-node";

type KubernetesClientModule = typeof k8s;

// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a dynamic import() that tsc does not turn into require()
const importEsm = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<unknown>;

let loaded: Promise<KubernetesClientModule> | undefined;

/** Loads @kubernetes/client-node once. */
function loadKubernetesClient(): Promise<KubernetesClientModule> {
  loaded ??= importEsm("@kubernetes/client-node") as Promise<KubernetesClientModule>;
  return loaded;
}

/** A failed call to the Kubernetes API: `status` is the HTTP status when there was an answer (410 means "re-list"). */
export class KubernetesApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export interface PodPage {
  /** The Pods as the API returned them. */
  items: unknown[];
  resourceVersion: string;
  /** Set when more pages follow (`limit`/`continue` pagination). */
  continueToken: string | undefined;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchHandle {
  abort(): void;
}

export interface KubernetesApi {
  /** The API server's URL, for the logs. */
  readonly server: string;
  /** One page of `GET /api/v1/pods` (all namespaces). */
  listPods(options: { limit: number; continueToken?: string; timeoutMs: number }): Promise<PodPage>;
  /**
   * `GET /api/v1/pods?watch=true&resourceVersion=…`: `onEvent` sees each event of the stream, `onDone` is called once
   * when the stream ends (null: closed normally, e.g. after timeoutSeconds) or fails.
   */
  watchPods(
    options: { resourceVersion: string; timeoutSeconds: number },
    onEvent: (type: WatchEventType, object: Record<string, unknown>) => void,
    onDone: (error: KubernetesApiError | null) => void,
  ): Promise<WatchHandle>;
  /** Namespaces that carry `label`, with its value (`GET /api/v1/namespaces?labelSelector=label`). */
  namespacesWithLabel(label: string, timeoutMs: number): Promise<Map<string, string>>;
  /** Sets (or, with null, removes) one label of a namespace with a JSON merge patch. */
  patchNamespaceLabel(namespace: string, label: string, value: string | null, timeoutMs: number): Promise<void>;
}

/** What an error of the client says, briefly: the status and the API's own message, never request headers. */
function describe(error: unknown): KubernetesApiError {
  if (error instanceof KubernetesApiError) return error;
  const e = error as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
  const status = typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (status !== undefined) {
    let detail: string | undefined;
    try {
      const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      detail = (body as { message?: string } | undefined)?.message;
    } catch {
      /* not a Status object */
    }
    return new KubernetesApiError(`HTTP ${status}${detail ? `: ${detail}` : ""}`, status);
  }
  const code = (error as { code?: unknown }).code ?? e.cause?.code;
  return new KubernetesApiError(typeof code === "string" ? code : (e.cause?.message ?? e.message ?? String(error)), undefined);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new KubernetesApiError(`${what}: no answer within ${timeoutMs} ms`, undefined)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connects with `KubeConfig.loadFromDefault()`: `KUBECONFIG`, then `~/.kube/config`, then the in-cluster service
 * account (token file re-read as it rotates, the cluster CA). Refuses to fall back to the library's last resort,
 * http://localhost:8080, which is never what an agent means.
 */
export async function connectKubernetes(env: NodeJS.ProcessEnv = process.env): Promise<KubernetesApi> {
  const client = await loadKubernetesClient();
  const kc = new client.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new KubernetesApiError(`cannot load the Kubernetes configuration${env.KUBECONFIG ? ` from KUBECONFIG=${env.KUBECONFIG}` : ""}: ${(error as Error).message}`, undefined);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster || (kc.currentContext === "loaded-context" && cluster.server === "http://localhost:8080")) {
    throw new KubernetesApiError("no Kubernetes configuration found: run inside a cluster (service account) or set KUBECONFIG", undefined);
  }
  const core = kc.makeApiClient(client.CoreV1Api);
  const watch = new client.Watch(kc);
  const mergePatch = client.setHeaderOptions("Content-Type", client.PatchStrategy.MergePatch);

  return {
    server: cluster.server,

    async listPods({ limit, continueToken, timeoutMs }) {
      try {
        const list = await withTimeout(core.listPodForAllNamespaces({ limit, ...(continueToken ? { _continue: continueToken } : {}) }), timeoutMs, "list pods");
        return {
          // Typed V1Pod objects: the projection reads the same field names, and turns their Date objects into the
          // RFC 3339 text the watch stream carries.
          items: list.items,
          resourceVersion: list.metadata?.resourceVersion ?? "",
          continueToken: list.metadata?._continue || undefined,
        };
      } catch (error) {
        throw describe(error);
      }
    },

    async watchPods({ resourceVersion, timeoutSeconds }, onEvent, onDone) {
      try {
        const controller = await watch.watch(
          "/api/v1/pods",
          { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          (type: string, object: Record<string, unknown>) => onEvent(type as WatchEventType, object),
          (error: unknown) => onDone(error ? describe(error) : null),
        );
        return { abort: () => controller.abort() };
      } catch (error) {
        // watch() reports its own failures through done(); this is a configuration error before any request.
        onDone(describe(error));
        return { abort: () => undefined };
      }
    },

    async namespacesWithLabel(label, timeoutMs) {
      try {
        const list = await withTimeout(core.listNamespace({ labelSelector: label }), timeoutMs, "list namespaces");
        const found = new Map<string, string>();
        for (const ns of list.items) {
          const value = ns.metadata?.labels?.[label];
          if (ns.metadata?.name && value !== undefined) found.set(ns.metadata.name, value);
        }
        return found;
      } catch (error) {
        throw describe(error);
      }
    },

    async patchNamespaceLabel(namespace, label, value, timeoutMs) {
      try {
        await withTimeout(core.patchNamespace({ name: namespace, body: { metadata: { labels: { [label]: value } } } }, mergePatch), timeoutMs, `patch namespace ${namespace}`);
      } catch (error) {
        throw describe(error);
      }
    },
  };
}
