import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { readFixture } from "../support/fixtures";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/test-app";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { fakeDigest } from "../support/trivy-counts";

const MAIN = path.resolve(__dirname, "../../dist/main.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends the head and the first part of a body; `finish()` sends the rest, `answer` is the response. */
function startUpload(url: string, pathAndQuery: string, body: Buffer, firstPart: number) {
  const u = new URL(url);
  const req = http.request({
    host: u.hostname,
    port: u.port,
    path: pathAndQuery,
    method: "POST",
    agent: false,
    headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "Content-Type": "application/json", "Content-Length": body.length },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
  });
  req.write(body.subarray(0, firstPart));
  return { answer, finish: () => void req.end(body.subarray(firstPart)) };
}

describe("SIGTERM", () => {
  let database: TestDatabase;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error("dist/main.js is missing: run `npm run build` first");
    database = await createTestDatabase();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await database?.drop();
  });

  test("when SIGTERM arrives during a slow upload, then new connections are refused, the upload completes, and the process exits 0", async () => {
    child = spawn(process.execPath, [MAIN, "serve"], {
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log: Array<{ msg?: string; url?: string }> = [];
    const waitForLog = (msg: string) =>
      new Promise<{ url?: string }>((resolve, reject) => {
        const check = () => log.find((l) => l.msg === msg);
        const found = check();
        if (found) return resolve(found);
        const onData = () => {
          const line = check();
          if (line) {
            child!.stdout!.off("data", onData);
            resolve(line);
          }
        };
        child!.stdout!.on("data", onData);
        child!.once("exit", (code) => reject(new Error(`exited ${code} before logging "${msg}"`)));
      });
    let buffered = "";
    child.stdout!.on("data", (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith("{")) log.push(JSON.parse(line));
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    const { url } = await waitForLog("scan-registry listening");

    const body = readFixture("debian-stretch.json.golden");
    const upload = startUpload(url!, `/v1/reports?digest=${fakeDigest("sigterm")}`, body, 1000);
    await sleep(200); // the head and the first kilobyte have reached the server
    child.kill("SIGTERM");
    await waitForLog("shutting down: draining requests");
    // No new connections once draining: the listening socket is closed.
    await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();

    upload.finish();
    const answer = await upload.answer;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body).images[0].image_digest).toBe(fakeDigest("sigterm"));

    let bound: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (bound = setTimeout(() => r("still running after 30 s"), 30_000)))]);
    clearTimeout(bound);
    expect(code).toBe(0);
    expect(log.some((l) => l.msg === "stopped")).toBe(true);
    const { rows } = await database.db.pool.query("SELECT count(*)::int AS n FROM scan_report_images WHERE image_digest = $1", [fakeDigest("sigterm")]);
    expect(rows[0].n).toBe(1);
  });
});

describe("an upload cut off by the client", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());

  /** Writes a request head announcing `declared` bytes, then only `sent` of them, then destroys the socket. */
  async function cutOff(head: Record<string, string>, body: Buffer, sent: number): Promise<void> {
    const u = new URL(app.service.url);
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const headers = Object.entries({ Host: u.host, Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "Content-Type": "application/json", "Content-Length": String(body.length), ...head })
      .map(([k, v]) => `${k}: ${v}`)
      .join("\r\n");
    socket.write(`POST /v1/reports?digest=${fakeDigest("cut-off")} HTTP/1.1\r\n${headers}\r\n\r\n`);
    socket.write(body.subarray(0, sent));
    await sleep(100);
    socket.destroy();
  }

  test.each([
    ["a plain JSON report, half sent", {}, () => readFixture("juice-shop-v10.2.0.json"), 0.5],
    ["a plain JSON report, all but the last byte", {}, () => readFixture("ubuntu-1804.json.golden"), -1],
    ["a gzip report, half sent", { "Content-Encoding": "gzip" }, () => gzipSync(readFixture("juice-shop-v10.2.0.json")), 0.5],
  ])("when %s, then no row is written and the service keeps answering", async (_what, head, makeBody, fraction) => {
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const body = makeBody();
    await cutOff(head, body, fraction < 0 ? body.length - 1 : Math.floor(body.length * fraction));
    // The server notices the closed socket; give it a moment, then prove it is healthy and wrote nothing.
    await sleep(300);
    expect((await app.http.get("/healthz")).status).toBe(200);
    expect(await app.database.rowCounts()).toEqual(before);
    // the same report, sent whole, is then stored normally
    const whole = await fetch(`${app.service.url}/v1/reports?digest=${fakeDigest("cut-off")}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "Content-Type": "application/json", ...head },
      body,
    });
    expect([200, 201]).toContain(whole.status);
  });
});
