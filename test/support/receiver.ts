import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What the receiver does with one request. */
export type Behaviour = "ok" | "500" | "hang" | "close" | "redirect";

export interface ReceivedRequest {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  answered: Behaviour;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Behaviours for the next requests, in order; after them, `then` (default ok). */
  script(behaviours: Behaviour[], then?: Behaviour): void;
  /** Resolves once `n` requests have arrived (fails after `timeoutMs`, naming what arrived). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback that plays a notification receiver: answers 200, 500 or a redirect, hangs without
 * answering, or closes the connection, as scripted. Hung requests are released when it closes.
 */
export async function startReceiver(port = 0): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let queue: Behaviour[] = [];
  let fallback: Behaviour = "ok";
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const behaviour = queue.shift() ?? fallback;
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* not JSON */
      }
      requests.push({ at: Date.now(), path: req.url ?? "/", headers: req.headers, body, json, answered: behaviour });
      for (const w of waiters.splice(0)) w();
      switch (behaviour) {
        case "ok":
          res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
          break;
        case "500":
          res.writeHead(500, { "Content-Type": "text/plain" }).end("receiver exploded");
          break;
        case "redirect":
          res.writeHead(302, { Location: "http://169.254.169.254/latest/meta-data/" }).end();
          break;
        case "close":
          req.socket.destroy();
          break;
        case "hang":
          break; // never answers
      }
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    script(behaviours, then = "ok") {
      queue = [...behaviours];
      fallback = then;
    },
    async waitFor(n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`receiver: expected ${n} requests, got ${requests.length}: ${requests.map((r) => r.answered).join(", ")}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return requests.slice(0, n);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Verifies X-Scan-Registry-Signature the way docs/notifications.md tells receivers to. */
export function verifySignature(header: string | undefined, body: string, secret: string, toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = crypto.createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  const given = String(parts.v1 ?? "");
  return given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** Polls `check` until it returns a value that is not undefined (the database, a receiver); fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
