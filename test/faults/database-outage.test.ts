import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startService, type RunningService } from "../../src/server";
import { readFixture } from "../support/fixtures";
import { startPostgresProcess, type PostgresProcess } from "../support/postgres-process";
import { TEST_ADMIN_TOKEN } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/**
 * A dedicated PostgreSQL server per file, stopped and started inside the tests: the shared test server must stay up.
 * "No hanging" is asserted as an answer before a generous 5 s abort, never as a tight time bound.
 */
const NO_HANG = () => AbortSignal.timeout(5_000);
const auth = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

function portOf(url: string): number {
  return Number(new URL(url).port);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 120): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger("info", sink) };
}

function serviceConfig(databaseUrl: string) {
  return loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrl, ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "info" });
}

describe("when the database goes away and comes back", () => {
  let dir: string;
  let pg: PostgresProcess;
  let service: RunningService;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-outage-"));
    pg = await startPostgresProcess(dir);
    service = await startService(serviceConfig(pg.url), { logger: capturingLogger().logger });
  });
  afterAll(async () => {
    await service?.close();
    await pg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const lookup = (digest: string) => fetch(`${service.url}/v1/images/${digest}/compliance`, { headers: auth, signal: NO_HANG() });

  test("then lookups answer 503 problem+json without hanging, /readyz fails, uploads are refused, and everything heals by itself", async () => {
    const upload = await fetch(`${service.url}/v1/reports?digest=${fakeDigest("before-outage")}`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: readFixture("alpine-310.json.golden"),
    });
    expect(upload.status).toBe(201);
    expect((await lookup(fakeDigest("before-outage"))).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);

    await pg.stop();

    for (const digest of [fakeDigest("never-seen-1"), fakeDigest("never-seen-2")]) {
      const res = await lookup(digest);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("1");
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe("database_unavailable");
      expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at .*\.js/);
    }
    const ready = await fetch(`${service.url}/readyz`, { signal: NO_HANG() });
    expect(ready.status).toBe(503);
    const refusedUpload = await fetch(`${service.url}/v1/reports?digest=${fakeDigest("during-outage")}`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: readFixture("debian-stretch.json.golden"),
      signal: NO_HANG(),
    });
    expect(refusedUpload.status).toBe(503);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200); // the process itself is fine

    pg = await startPostgresProcess(dir, portOf(pg.url));

    const healed = await until("a lookup to answer 200 again", async () => {
      const res = await lookup(fakeDigest("before-outage"));
      return res.status === 200 ? ((await res.json()) as { status: string }) : undefined;
    });
    expect(healed.status).toBe("compliant");
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const unknown = await lookup(fakeDigest("never-seen-1"));
    expect(unknown.status).toBe(200);
    // the refused upload left nothing behind
    const { rows } = await service.deps.pool.query("SELECT count(*)::int AS n FROM scan_report_images WHERE image_digest = $1", [fakeDigest("during-outage")]);
    expect(rows[0].n).toBe(0);
  });
});

describe("when the service starts before its database", () => {
  test("then it retries, logging why, and is ready once PostgreSQL comes up", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-late-db-"));
    // Initialise the cluster (credentials, port) and stop it: the service will be pointed at a closed port.
    const first = await startPostgresProcess(dir);
    await first.stop();
    const { lines, logger } = capturingLogger();
    let pg: PostgresProcess | undefined;
    let service: RunningService | undefined;
    try {
      const starting = startService(serviceConfig(first.url), { logger });
      let started = false;
      void starting.then(() => (started = true), () => undefined);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(started).toBe(false);
      pg = await startPostgresProcess(dir, portOf(first.url));
      service = await starting;
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${service.url}/v1/images/${fakeDigest("late")}/compliance`, { headers: auth })).status).toBe(200);
      const retries = lines.map((l) => JSON.parse(l) as { msg: string; err?: string }).filter((l) => l.msg.startsWith("database not reachable yet"));
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries[0]!.err).toMatch(/ECONNREFUSED|connect/);
      expect(lines.join("")).not.toContain(new URL(first.url).password);
    } finally {
      await service?.close();
      await pg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
