import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { PoolClient } from "pg";
import { readFixture } from "../support/fixtures";
import { TEST_ADMIN_TOKEN } from "../support/test-app";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { fakeDigest } from "../support/trivy-counts";

/**
 * Issue 17 item 1: a client checked out of the pool had no 'error' listener, so a connection lost in the middle of a
 * write (pg_terminate_backend, a fast PostgreSQL shutdown) ended node with an unhandled 'error' event and every
 * in-flight lookup with it. The service runs as its own process here (dist/main.js), so "the process lives" is
 * observed, not assumed. To terminate a backend at a known point, a second connection holds a lock the write
 * needs; the write's backend is then found in pg_stat_activity by its application_name and what it waits on.
 */
const MAIN = path.resolve(__dirname, "../../dist/main.js");
const auth = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Tables an upload or a policy change writes: none may keep a row of a write that was cut off. */
const WRITTEN = ["scan_reports", "scan_report_images", "scan_report_raw", "findings", "vulnerabilities", "image_scans", "policy_versions"];

let database: TestDatabase;
let child: ChildProcess;
let url: string;
let exited: { code: number | null; signal: string | null } | null = null;
const stderr: string[] = [];
const baseline = fakeDigest("lost-connection-baseline");

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error("dist/main.js is missing: run `npm run build` first");
  database = await createTestDatabase();
  child = spawn(process.execPath, [MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.once("exit", (code, signal) => (exited = { code, signal }));
  child.stderr!.on("data", (c: Buffer) => stderr.push(c.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout!.on("data", (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "scan-registry listening" && entry.url) resolve(entry.url);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${stderr.join("")}`)));
  });
  const upload = await fetch(`${url}/v1/reports?digest=${baseline}`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: readFixture("alpine-310.json.golden"),
  });
  expect(upload.status).toBe(201);
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await database?.drop();
});

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of WRITTEN) out[table] = (await database.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  return out;
}

/** Waits for the service's write backend that matches `where`, terminates it from this (second) connection. */
async function terminateWhen(where: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await database.db.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'scan-registry' AND state = 'active' AND (${where})`,
    );
    if (rows[0]) {
      const done = await database.db.pool.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [rows[0].pid]);
      expect(done.rows[0]!.ok).toBe(true);
      return rows[0].pid;
    }
    await sleep(25);
  }
  throw new Error(`no backend of the service matched ${where}`);
}

/** Holds `lock` in an open transaction on a connection of its own until the returned release is called. */
async function holding(lock: string): Promise<() => Promise<void>> {
  const client: PoolClient = await database.db.pool.connect();
  await client.query("BEGIN");
  await client.query(lock);
  return async () => {
    await client.query("ROLLBACK");
    client.release();
  };
}

async function expectServiceAlive(): Promise<void> {
  await sleep(200); // an unhandled 'error' event would end the process now
  expect(exited).toBeNull();
  expect(stderr.join("")).not.toMatch(/Unhandled 'error' event|Connection terminated unexpectedly/);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const lookup = await fetch(`${url}/v1/images/${baseline}/compliance`, { headers: auth });
  expect(lookup.status).toBe(200);
  expect(await lookup.json()).toMatchObject({ image_digest: baseline });
}

test("when the backend is terminated during an upload's COPY, then the upload answers 503 problem+json, nothing is written, and the process keeps serving", async () => {
  const before = await counts();
  const release = await holding("LOCK TABLE findings IN SHARE MODE"); // COPY needs ROW EXCLUSIVE: it waits here
  const digest = fakeDigest("lost-connection-copy");
  const body = readFixture("debian-stretch.json.golden");
  const answer = fetch(`${url}/v1/reports?digest=${digest}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body });
  try {
    await terminateWhen("query LIKE 'COPY findings%'");
    const res = await answer;
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as { code: string }).code).toBe("database_unavailable");
  } finally {
    await release();
  }
  expect(await counts()).toEqual(before);
  await expectServiceAlive();
  // The same upload, sent again, is stored: the broken connection was discarded, not handed out again.
  const again = await fetch(`${url}/v1/reports?digest=${digest}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body });
  expect(again.status).toBe(201);
});

test("when the backend is terminated during PUT /v1/policy's re-evaluation, then 503, the old policy stays in force, and the process keeps serving", async () => {
  const policyBefore = await (await fetch(`${url}/v1/policy`, { headers: auth })).json();
  const before = await counts();
  const release = await holding("SELECT 1 FROM image_scans FOR UPDATE"); // re-evaluation updates every image: it waits here
  const answer = fetch(`${url}/v1/policy`, {
    method: "PUT",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ max_severity_counts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0 } }),
  });
  try {
    await terminateWhen("wait_event_type = 'Lock' AND query NOT LIKE '%pg_stat_activity%'");
    const res = await answer;
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
  } finally {
    await release();
  }
  expect(await counts()).toEqual(before);
  expect(await (await fetch(`${url}/v1/policy`, { headers: auth })).json()).toEqual(policyBefore);
  await expectServiceAlive();
  const again = await fetch(`${url}/v1/policy`, { method: "PUT", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ max_severity_counts: { CRITICAL: 0 } }) });
  expect(again.status).toBe(200);
});
