import fs from "node:fs";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import type { TestCertificates } from "./certificates";

type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorized: boolean;
}

export interface RecordedPatch {
  namespace: string;
  contentType: string | undefined;
  body: Obj;
}

export interface FakePodsApi {
  url: string;
  /** A kubeconfig file (CA, server, bearer token) that points at this server. */
  kubeconfig: string;
  token: string;
  requests: RecordedRequest[];
  patches: RecordedPatch[];
  /** The current resourceVersion (one counter for every object, as etcd's revision). */
  readonly resourceVersion: number;
  /** Watches currently streaming. */
  readonly watchers: number;
  /** `silently`: the change is made (and kept in the history) but open watches are not told: a watch that fell behind. */
  addPod(pod: Obj, options?: { silently?: boolean }): Obj;
  updatePod(pod: Obj): Obj;
  deletePod(namespace: string, name: string, options?: { silently?: boolean }): void;
  /** Ends every open watch normally, as its timeoutSeconds would. */
  endWatches(): void;
  /** Sends a BOOKMARK with the current resourceVersion to every open watch. */
  bookmark(): void;
  /**
   * Compacts history: every resourceVersion up to now becomes too old. Open watches get an ERROR event with a 410
   * Status and end (as kube-apiserver ends a watch that fell out of its watch cache); a watch from an older
   * resourceVersion is answered the same way.
   */
  expireHistory(): void;
  addNamespace(name: string, labels?: Record<string, string>): void;
  namespaceLabels(name: string): Record<string, string> | undefined;
  /** Stops answering: the listening socket closes and every open connection is destroyed. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

interface Watcher {
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

/**
 * A loopback HTTPS server that speaks the Kubernetes API's list/watch protocol for Pods, as kube-apiserver does:
 * - `GET /api/v1/pods` → a PodList with metadata.resourceVersion; `limit`/`continue` pagination over a consistent
 *   snapshot;
 * - `GET /api/v1/pods?watch=true&resourceVersion=N` → a chunked stream of newline-delimited watch events
 *   (`{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":…}`): first every change after N, then live ones;
 *   an N older than the compacted history gets `ERROR` with a 410 `Expired` Status; `timeoutSeconds` ends the stream;
 * - `GET /api/v1/namespaces?labelSelector=key` and `PATCH /api/v1/namespaces/{name}` with
 *   `application/merge-patch+json` (a null label removes it; other patch types → 415), every patch recorded;
 * - every request needs `Authorization: Bearer <token>` (401 Status otherwise).
 */
export async function startFakePodsApi(certs: TestCertificates, token = "agent-service-account-token"): Promise<FakePodsApi> {
  let revision = 1;
  let compactedThrough = 0;
  const pods = new Map<string, Obj>();
  const namespaces = new Map<string, Obj>();
  const history: Array<{ rv: number; type: string; object: Obj }> = [];
  const watchers = new Set<Watcher>();
  const listSnapshots = new Map<string, Obj[]>();
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  const patches: RecordedPatch[] = [];

  const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
  const send = (res: ServerResponse, code: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  };
  const writeEvent = (res: ServerResponse, type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
  const endWatch = (w: Watcher) => {
    clearTimeout(w.timer);
    watchers.delete(w);
    w.res.end();
  };
  const record = (type: string, object: Obj, silently = false) => {
    history.push({ rv: revision, type, object: structuredClone(object) });
    if (!silently) for (const w of watchers) writeEvent(w.res, type, object);
  };
  const key = (pod: Obj) => `${pod.metadata.namespace}/${pod.metadata.name}`;
  const stamp = (pod: Obj) => {
    revision += 1;
    const copy = structuredClone(pod);
    copy.apiVersion = "v1";
    copy.kind = "Pod";
    copy.metadata.resourceVersion = String(revision);
    copy.metadata.uid ??= `uid-${copy.metadata.namespace}-${copy.metadata.name}`;
    return copy;
  };

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? "/", "https://fake");
    const query = Object.fromEntries(url.searchParams);
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ method: req.method ?? "GET", path: url.pathname, query, authorized });
    if (!authorized) return send(res, 401, status(401, "Unauthorized", "Unauthorized"));

    if (req.method === "GET" && url.pathname === "/api/v1/pods" && query.watch === "true") {
      const from = Number(query.resourceVersion ?? "0");
      res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
      if (!Number.isFinite(from) || (from > 0 && from <= compactedThrough)) {
        writeEvent(res, "ERROR", status(410, "Expired", `too old resource version: ${query.resourceVersion} (${compactedThrough + 1})`));
        return res.end();
      }
      for (const event of history) if (event.rv > from) writeEvent(res, event.type, event.object);
      const timeout = Number(query.timeoutSeconds ?? "1800");
      const w: Watcher = { res, timer: setTimeout(() => endWatch(w), timeout * 1000) };
      watchers.add(w);
      res.on("close", () => {
        clearTimeout(w.timer);
        watchers.delete(w);
      });
      return;
    }

    if (req.method === "GET" && url.pathname === "/api/v1/pods") {
      const limit = query.limit ? Number(query.limit) : Infinity;
      let items: Obj[];
      let offset = 0;
      let listRv: number;
      if (query.continue) {
        const [rvText, offsetText] = Buffer.from(query.continue, "base64url").toString().split(":");
        const snapshot = listSnapshots.get(rvText!);
        if (!snapshot) return send(res, 410, status(410, "Expired", "The provided continue parameter is too old"));
        items = snapshot;
        offset = Number(offsetText);
        listRv = Number(rvText);
      } else {
        items = [...pods.values()].sort((a, b) => key(a).localeCompare(key(b))).map((p) => structuredClone(p));
        listRv = revision;
        listSnapshots.set(String(listRv), items);
      }
      const page = items.slice(offset, offset + limit);
      const next = offset + page.length < items.length ? Buffer.from(`${listRv}:${offset + page.length}`).toString("base64url") : undefined;
      return send(res, 200, {
        kind: "PodList",
        apiVersion: "v1",
        metadata: { resourceVersion: String(listRv), ...(next ? { continue: next, remainingItemCount: items.length - offset - page.length } : {}) },
        items: page,
      });
    }

    if (req.method === "GET" && url.pathname === "/api/v1/namespaces") {
      const selector = query.labelSelector;
      const items = [...namespaces.values()].filter((ns) => !selector || (ns.metadata.labels ?? {})[selector] !== undefined);
      return send(res, 200, { kind: "NamespaceList", apiVersion: "v1", metadata: { resourceVersion: String(revision) }, items });
    }

    const nsMatch = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    if (req.method === "PATCH" && nsMatch) {
      const name = decodeURIComponent(nsMatch[1]!);
      const contentType = req.headers["content-type"];
      const patch = JSON.parse(body || "{}") as Obj;
      patches.push({ namespace: name, contentType, body: patch });
      if (contentType !== "application/merge-patch+json") return send(res, 415, status(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${contentType})`));
      const ns = namespaces.get(name);
      if (!ns) return send(res, 404, status(404, "NotFound", `namespaces "${name}" not found`));
      const labels: Obj = { ...(ns.metadata.labels ?? {}) };
      for (const [k, v] of Object.entries(patch.metadata?.labels ?? {})) {
        if (v === null) delete labels[k];
        else labels[k] = v;
      }
      revision += 1;
      ns.metadata.labels = labels;
      ns.metadata.resourceVersion = String(revision);
      return send(res, 200, ns);
    }

    send(res, 404, status(404, "NotFound", `the server could not find the requested resource (${req.method} ${url.pathname})`));
  }

  const server = https.createServer({ cert: fs.readFileSync(certs.certFile), key: fs.readFileSync(certs.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  server.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-kubeconfig-"));
  const kubeconfig = path.join(dir, "config");
  fs.writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: fake",
      "    cluster:",
      `      server: ${url}`,
      `      certificate-authority-data: ${certs.ca.toString("base64")}`,
      "users:",
      "  - name: agent",
      "    user:",
      `      token: ${token}`,
      "contexts:",
      "  - name: fake",
      "    context: {cluster: fake, user: agent}",
      "current-context: fake",
      "",
    ].join("\n"),
  );

  const destroyAll = () => {
    for (const w of [...watchers]) {
      clearTimeout(w.timer);
      watchers.delete(w);
    }
    for (const s of sockets) s.destroy();
  };

  return {
    url,
    kubeconfig,
    token,
    requests,
    patches,
    get resourceVersion() {
      return revision;
    },
    get watchers() {
      return watchers.size;
    },
    addPod(pod, options) {
      const stored = stamp(pod);
      pods.set(key(stored), stored);
      record("ADDED", stored, options?.silently);
      return stored;
    },
    updatePod(pod) {
      const stored = stamp(pod);
      if (!pods.has(key(stored))) throw new Error(`no pod ${key(stored)}`);
      pods.set(key(stored), stored);
      record("MODIFIED", stored);
      return stored;
    },
    deletePod(namespace, name, options) {
      const existing = pods.get(`${namespace}/${name}`);
      if (!existing) throw new Error(`no pod ${namespace}/${name}`);
      pods.delete(`${namespace}/${name}`);
      revision += 1;
      const gone = structuredClone(existing);
      gone.metadata.resourceVersion = String(revision);
      record("DELETED", gone, options?.silently);
    },
    endWatches() {
      for (const w of [...watchers]) endWatch(w);
    },
    bookmark() {
      for (const w of watchers) writeEvent(w.res, "BOOKMARK", { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: String(revision) } });
    },
    expireHistory() {
      compactedThrough = revision;
      history.length = 0;
      listSnapshots.clear();
      for (const w of [...watchers]) {
        writeEvent(w.res, "ERROR", status(410, "Expired", `too old resource version: (${compactedThrough + 1})`));
        endWatch(w);
      }
    },
    addNamespace(name, labels) {
      revision += 1;
      namespaces.set(name, { kind: "Namespace", apiVersion: "v1", metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels }, resourceVersion: String(revision) } });
    },
    namespaceLabels(name) {
      return namespaces.get(name)?.metadata.labels;
    },
    async down() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        destroyAll();
      });
    },
    async up() {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
    async close() {
      destroyAll();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running Pod as kubectl shows it: a Deployment's ReplicaSet as owner, statuses with the digests the runtime pulled. */
export function aPod(options: {
  namespace: string;
  name: string;
  image: string;
  imageID?: string | null;
  owner?: { kind: string; name: string } | null;
  phase?: string;
  initImage?: { image: string; imageID: string };
}): Obj {
  const owner = options.owner === undefined ? { kind: "ReplicaSet", name: `${options.name.replace(/-[a-z0-9]{5}$/, "")}` } : options.owner;
  const hash = owner?.kind === "ReplicaSet" ? owner.name.split("-").pop() : undefined;
  return {
    metadata: {
      name: options.name,
      namespace: options.namespace,
      labels: { app: options.name.split("-")[0]!, ...(hash ? { "pod-template-hash": hash } : {}) },
      annotations: { "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z" },
      managedFields: [{ manager: "kube-controller-manager", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": {} } }],
      creationTimestamp: "2025-01-01T00:00:00Z",
      ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: owner.kind, name: owner.name, uid: `uid-${owner.name}`, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "app", image: options.image, env: [{ name: "SECRET_LOOKING", value: "not-for-the-registry" }], resources: {} }],
      ...(options.initImage ? { initContainers: [{ name: "init", image: options.initImage.image }] } : {}),
    },
    status: {
      phase: options.phase ?? "Running",
      startTime: "2025-01-01T00:00:01Z",
      ...(options.imageID === null
        ? {}
        : {
            containerStatuses: [
              {
                name: "app",
                image: options.image,
                imageID: options.imageID ?? "",
                ready: true,
                restartCount: 0,
                started: true,
                containerID: "containerd://0123",
                state: { running: { startedAt: "2025-01-01T00:00:02Z" } },
              },
            ],
          }),
      ...(options.initImage
        ? {
            initContainerStatuses: [
              { name: "init", image: options.initImage.image, imageID: options.initImage.imageID, ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed", startedAt: "2025-01-01T00:00:01Z", finishedAt: "2025-01-01T00:00:02Z" } } },
            ],
          }
        : {}),
    },
  };
}
