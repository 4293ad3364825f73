/**
 * A Pod informer with client-go's reflector semantics, on the KubernetesApi adapter:
 *
 * 1. List every Pod of every namespace, in pages (`limit`/`continue`), into a fresh cache; the list's
 *    resourceVersion is where the watch starts. The cache is complete: `synced` fires.
 * 2. Watch from that resourceVersion (with bookmarks, and a server-side `timeoutSeconds`). ADDED/MODIFIED/DELETED keep
 *    the cache current (`changed` fires only when what the agent keeps of a Pod changed); every event and BOOKMARK
 *    moves the resourceVersion on. A watch that ends normally is restarted from the last resourceVersion.
 * 3. `410 Gone` (an ERROR event with code 410, or an HTTP 410): the resourceVersion is too old for the API server's
 *    watch cache; re-list (1.).
 * 4. Any other failure (API server away, 5xx, 401/403, a watch that stalls past its timeout): the cache is no longer
 *    known to be current (`lost` fires), and after an exponential backoff the informer re-lists (1.) rather than
 *    resuming the watch: a re-list is what makes the cache complete again, whatever happened meanwhile.
 *
 * The periodic resync (re-sending the cache as it is) is the agent's, not the informer's: see run-agent.ts.
 */
import type { Logger } from "../logger";
import { Backoff, sleep, unlessAborted } from "./backoff";
import { KubernetesApiError, type KubernetesApi, type WatchHandle } from "./kubernetes-api";
import { podKey, podList, projectPod, resourceVersionOf, samePod, type PodListBody, type ProjectedPod } from "./pod-projection";

export interface PodInformerOptions {
  /** Pods per list page. */
  pageSize: number;
  /** Asked of the API server for each watch; the agent gives up on a watch silent for this + 30 s. */
  watchTimeoutSeconds: number;
  /** For each list request. */
  requestTimeoutMs: number;
  backoff: Backoff;
}

export type SyncReason = "initial" | "gone" | "recovered";

export interface PodInformerEvents {
  /** A full list was read: the cache is complete and current. */
  synced(info: { pods: number; resourceVersion: string; reason: SyncReason }): void;
  /** A watch event changed what the cache holds. */
  changed(): void;
  /** The API failed: the cache may be behind until the next `synced`. */
  lost(error: Error): void;
}

type WatchOutcome = "closed" | "gone" | "closed-empty";

export class PodInformer {
  private pods = new Map<string, ProjectedPod>();
  private resourceVersion = "";
  private current = false;

  constructor(
    private readonly api: KubernetesApi,
    private readonly options: PodInformerOptions,
    private readonly events: PodInformerEvents,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {}

  /** True between a completed list and the next failure. */
  get synced(): boolean {
    return this.current;
  }

  get size(): number {
    return this.pods.size;
  }

  /** The cache as a snapshot body, or undefined while it is not known to be current. */
  snapshot(): PodListBody | undefined {
    return this.current ? podList(this.pods.values(), this.resourceVersion) : undefined;
  }

  /** Runs until the signal aborts. Never rejects: every failure is logged, backed off and retried. */
  async run(): Promise<void> {
    let reason: SyncReason = "initial";
    let goneInARow = 0;
    while (!this.signal.aborted) {
      try {
        if (!this.resourceVersion) {
          await this.relist(reason);
          if (this.signal.aborted) break;
        }
        const outcome = await this.watch();
        if (outcome === "gone") {
          goneInARow += 1;
          this.resourceVersion = "";
          reason = "gone";
          this.log.info({ resourceVersion: this.resourceVersion }, "watch answered 410 Gone (resourceVersion too old): re-listing pods");
          // A second 410 straight after a fresh list means the API server is not keeping up: do not spin.
          if (goneInARow > 1) await sleep(this.options.backoff.next(), this.signal);
        } else if (outcome === "closed-empty") {
          // A watch that ends at once with nothing in it (a proxy closing streams, say) must not become a busy loop.
          goneInARow = 0;
          await sleep(this.options.backoff.next(), this.signal);
        } else {
          goneInARow = 0;
          this.options.backoff.reset();
        }
      } catch (error) {
        if (this.signal.aborted) break;
        this.current = false;
        this.resourceVersion = "";
        reason = "recovered";
        const delay = this.options.backoff.next();
        const status = error instanceof KubernetesApiError ? error.status : undefined;
        this.log.warn(
          { err: (error as Error).message, status, failures: this.options.backoff.failures, retryInMs: delay, server: this.api.server },
          status === 401 || status === 403
            ? "Kubernetes API refused the agent (check its ServiceAccount and ClusterRole); re-listing after a backoff"
            : "Kubernetes API failed; re-listing pods after a backoff",
        );
        this.events.lost(error as Error);
        await sleep(delay, this.signal);
      }
    }
  }

  private async relist(reason: SyncReason): Promise<void> {
    const fresh = new Map<string, ProjectedPod>();
    let continueToken: string | undefined;
    let resourceVersion = "";
    let pages = 0;
    do {
      const page = await unlessAborted(this.api.listPods({ limit: this.options.pageSize, continueToken, timeoutMs: this.options.requestTimeoutMs }), this.signal);
      pages += 1;
      for (const item of page.items) {
        const pod = projectPod(item);
        const key = podKey(item);
        if (pod && key) fresh.set(key, pod);
      }
      resourceVersion = page.resourceVersion || resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken && !this.signal.aborted);
    if (this.signal.aborted) return;
    this.pods = fresh;
    this.resourceVersion = resourceVersion;
    this.current = true;
    this.options.backoff.reset();
    this.log.info({ pods: fresh.size, pages, resourceVersion, reason }, "listed pods");
    this.events.synced({ pods: fresh.size, resourceVersion, reason });
  }

  private watch(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve, reject) => {
      const stallMs = (this.options.watchTimeoutSeconds + 30) * 1000;
      let handle: WatchHandle | undefined;
      let finished = false;
      let stalled = false;
      let gone = false;
      let failure: KubernetesApiError | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      let events = 0;
      const startedAt = Date.now();
      const abort = () => handle?.abort();
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          stalled = true;
          abort();
          finish(null);
        }, stallMs);
      };
      // The client's done callback is not guaranteed after an abort: stopping and the watchdog finish at once.
      const onAbort = () => {
        abort();
        finish(null);
      };
      const finish = (error: KubernetesApiError | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        this.signal.removeEventListener("abort", onAbort);
        if (this.signal.aborted) return resolve("closed");
        if (stalled) return reject(new KubernetesApiError(`the watch sent nothing for ${stallMs / 1000} s`, undefined));
        if (gone || error?.status === 410) return resolve("gone");
        if (failure) return reject(failure);
        if (error) return reject(error);
        resolve(events === 0 && Date.now() - startedAt < 1000 ? "closed-empty" : "closed");
      };
      this.signal.addEventListener("abort", onAbort, { once: true });
      arm();
      this.api
        .watchPods(
          { resourceVersion: this.resourceVersion, timeoutSeconds: this.options.watchTimeoutSeconds },
          (type, object) => {
            if (finished) return;
            events += 1;
            arm();
            switch (type) {
              case "ADDED":
              case "MODIFIED": {
                const key = podKey(object);
                const pod = projectPod(object);
                if (key && pod && !samePod(this.pods.get(key), pod)) {
                  this.pods.set(key, pod);
                  this.events.changed();
                }
                break;
              }
              case "DELETED": {
                const key = podKey(object);
                if (key && this.pods.delete(key)) this.events.changed();
                break;
              }
              case "BOOKMARK":
                this.log.debug({ resourceVersion: resourceVersionOf(object) }, "watch bookmark");
                break;
              case "ERROR": {
                const status = object as { code?: unknown; message?: unknown };
                if (status.code === 410) gone = true;
                else failure = new KubernetesApiError(`watch error: ${String(status.message ?? "unknown")}`, typeof status.code === "number" ? status.code : undefined);
                abort();
                finish(null);
                return;
              }
              default:
                return;
            }
            this.resourceVersion = resourceVersionOf(object) ?? this.resourceVersion;
          },
          finish,
        )
        .then((h) => {
          handle = h;
          if (finished || this.signal.aborted) h.abort();
        }, finish);
    });
  }
}
