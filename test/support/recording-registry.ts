import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gunzipSync } from "node:zlib";

type Obj = Record<string, any>;

export interface ReceivedSnapshot {
  cluster: string | null;
  namespace: string | null;
  source: string | null;
  authorization: string | undefined;
  contentEncoding: string | undefined;
  body: Obj;
  /** Whether the receiver answered it with success. */
  accepted: boolean;
}

export interface RecordingRegistry {
  url: string;
  token: string;
  snapshots: ReceivedSnapshot[];
  /** GET /v1/violations requests (query strings). */
  violationQueries: Array<Record<string, string>>;
  /** The open violations GET /v1/violations answers with (filtered by cluster), `pageSize` per page. */
  violations: Array<{ cluster: string; namespace: string; name: string; container: string }>;
  pageSize: number;
  /** When set, every request is answered with this status (a problem+json). */
  failWith: number | null;
  /** When true, requests are recorded but never answered (a registry that hangs). */
  hang: boolean;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP receiver that stands in for the registry's runtime endpoints as PRODUCT.md states them:
 * `POST /v1/inventory?cluster=…[&namespace=…]` (gzip or plain JSON PodList; recorded, answered with counts) and
 * `GET /v1/violations?state=open&cluster=…` (cursor pagination: `{items, next_cursor}`). Bearer token required.
 */
export async function startRecordingRegistry(token = "sr_agent_test_token_0123456789"): Promise<RecordingRegistry> {
  const sockets = new Set<Socket>();
  const state: Omit<RecordingRegistry, "url" | "down" | "up" | "close"> = { token, snapshots: [], violationQueries: [], violations: [], pageSize: 2, failWith: null, hang: false };
  const problem = (res: http.ServerResponse, status: number, code: string, detail: string) => {
    const text = JSON.stringify({ type: "about:blank", title: code, status, detail, code });
    res.writeHead(status, { "Content-Type": "application/problem+json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://registry");
      const query = Object.fromEntries(url.searchParams);
      if (req.headers.authorization !== `Bearer ${token}`) return problem(res, 401, "unauthorized", "A valid bearer token is required.");
      if (req.method === "POST" && url.pathname === "/v1/inventory") {
        const raw = Buffer.concat(chunks);
        const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
        const body = JSON.parse(text) as Obj;
        const snapshot: ReceivedSnapshot = {
          cluster: url.searchParams.get("cluster"),
          namespace: url.searchParams.get("namespace"),
          source: url.searchParams.get("source"),
          authorization: req.headers.authorization,
          contentEncoding: req.headers["content-encoding"],
          body,
          accepted: state.failWith === null,
        };
        state.snapshots.push(snapshot);
        if (state.hang) return;
        if (state.failWith !== null) return problem(res, state.failWith, "unavailable", "The registry is not available.");
        const containers = (body.items as Obj[]).flatMap((p) => p.spec?.containers ?? []).length;
        return json(res, 200, { cluster: snapshot.cluster, namespace: snapshot.namespace, pods: (body.items as Obj[]).length, containers, running: containers, gone: 0, unresolved: 0, violations_opened: 0, violations_resolved: 0 });
      }
      if (req.method === "GET" && url.pathname === "/v1/violations") {
        state.violationQueries.push(query);
        if (state.failWith !== null) return problem(res, state.failWith, "unavailable", "The registry is not available.");
        const matching = state.violations.filter((v) => (!query.cluster || v.cluster === query.cluster) && query.state === "open");
        const offset = query.cursor ? Number(Buffer.from(query.cursor, "base64url").toString()) : 0;
        const page = matching.slice(offset, offset + state.pageSize);
        const next = offset + page.length < matching.length ? Buffer.from(String(offset + page.length)).toString("base64url") : null;
        return json(res, 200, { items: page.map((v) => ({ ...v, kind: "Deployment", state: "open" })), next_cursor: next });
      }
      problem(res, 404, "not_found", `${req.method} ${url.pathname}`);
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    async down() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async up() {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  });
}
