/**
 * The service behind PgBouncer in transaction pooling mode (Debian's `pgbouncer`, started here), with LISTEN and
 * session-level work on a direct connection (DATABASE_LISTEN_URL): migrations, uploads (COPY, transaction-level
 * advisory locks, NOTIFY), Prisma reads, lookups, a policy change, the Trivy Operator webhook (a session advisory
 * lock), history retention and the CLI, from two replicas whose caches stay coherent. Without /usr/sbin/pgbouncer
 * the test is skipped with a loud message (.ci/run installs it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { readFixtureJson } from "../support/fixtures";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { TEST_ADMIN_TOKEN } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { startServeProcess, type ServeProcess } from "../support/serve-process";
import { runCli } from "../support/cli-process";

jest.setTimeout(180_000);

const PGBOUNCER = "/usr/sbin/pgbouncer";
const MAIN = path.resolve(__dirname, "../../dist/main.js");
const AUTH = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const available = fs.existsSync(PGBOUNCER);
if (!available)
  console.warn(
    "\n\n*** SKIPPED: test/topology/pgbouncer.test.ts needs PgBouncer (/usr/sbin/pgbouncer): apt-get install -y pgbouncer. The service is NOT tested behind a transaction pooler on this machine. ***\n",
  );
const describeWithPgBouncer = available ? describe : describe.skip;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Bouncer {
  port: number;
  process: ChildProcess;
  dir: string;
  log(): string;
}

/** PgBouncer in front of the test server: any client user, every database, pool_mode = transaction. */
async function startPgBouncer(serverUrl: string): Promise<Bouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-pgbouncer-"));
  fs.chmodSync(dir, 0o777);
  const ini = path.join(dir, "pgbouncer.ini");
  fs.writeFileSync(
    ini,
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port || 5432} user=${decodeURIComponent(server.username)} password=${decodeURIComponent(server.password)}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 500",
      "default_pool_size = 8",
      "server_reset_query =",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
      `admin_users = ${decodeURIComponent(server.username)}`,
      "",
    ].join("\n"),
  );
  fs.chmodSync(ini, 0o644);
  // PgBouncer refuses to run as root; -u drops to another user.
  const args = process.getuid?.() === 0 ? ["-u", "nobody", ini] : [ini];
  const child = spawn(PGBOUNCER, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const log = () => output + (fs.existsSync(path.join(dir, "pgbouncer.log")) ? fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8") : "");
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || i > 100) throw new Error(`pgbouncer did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, process: child, dir, log };
}

type Replica = ServeProcess;

const serve = (env: Record<string, string>): Promise<Replica> => startServeProcess(env);

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env });

function report(digest: string, scannedAt: string, severity: string, n = 50): string {
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: scannedAt,
    ArtifactName: "registry.example.com/pooled/app:1",
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/pooled/app@${digest}`], RepoTags: ["registry.example.com/pooled/app:1"] },
    Results: [
      {
        Target: "app",
        Class: "os-pkgs",
        Type: "alpine",
        Vulnerabilities: Array.from({ length: n }, (_, i) => ({ VulnerabilityID: `CVE-2098-${severity}-${i}`, PkgName: `p${i}`, InstalledVersion: "1", Severity: i === 0 ? severity : "LOW" })),
      },
    ],
  });
}

describeWithPgBouncer("behind PgBouncer (pool_mode = transaction)", () => {
  let database: TestDatabase;
  let bouncer: Bouncer;
  let pooledUrl: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error("dist is missing: run `npm run build` first");
    database = await createTestDatabase();
    bouncer = await startPgBouncer(database.url);
    const u = new URL(database.url);
    u.port = String(bouncer.port);
    u.password = "";
    pooledUrl = u.toString();
    // Migrations through the direct URL (a session advisory lock), the rest through the pooler.
    const migrated = await cli(["migrate"], { DATABASE_URL: pooledUrl, DATABASE_LISTEN_URL: database.url });
    expect(migrated.stderr).toBe("");
    expect(migrated.code).toBe(0);
    const env = { DATABASE_URL: pooledUrl, DATABASE_LISTEN_URL: database.url, DB_POOL_SIZE: "6" };
    replicas.push(await serve(env), await serve(env));
  });

  afterAll(async () => {
    for (const r of replicas) r.process.kill("SIGTERM");
    await Promise.all(replicas.map((r) => new Promise<void>((resolve) => (r.process.exitCode !== null ? resolve() : r.process.once("exit", () => resolve())))));
    bouncer?.process.kill("SIGTERM");
    if (bouncer) await new Promise<void>((resolve) => (bouncer.process.exitCode !== null ? resolve() : bouncer.process.once("exit", () => resolve())));
    if (bouncer) fs.rmSync(bouncer.dir, { recursive: true, force: true });
    await database?.drop();
  });

  const api = (r: Replica, p: string, init: RequestInit = {}) => fetch(`${r.url}${p}`, { ...init, headers: { ...AUTH, "Content-Type": "application/json", ...(init.headers ?? {}) } });

  test("when uploads, lookups, reads and a policy change go through the pooler from two replicas, then every answer is right and the other replica sees each change once the writer returns", async () => {
    const [a, b] = [replicas[0]!, replicas[1]!];
    expect((await api(a, "/v1/policy", { method: "PUT", body: JSON.stringify({ max_severity_counts: { CRITICAL: 0 } }) })).status).toBe(200);
    const digest = fakeDigest("pooled-1");
    for (let round = 0; round < 6; round++) {
      const critical = round % 2 === 1;
      const up = await api(round % 2 ? a : b, "/v1/reports", { method: "POST", body: report(digest, `2026-01-0${round + 1}T00:00:00Z`, critical ? "CRITICAL" : "HIGH") });
      const body = (await up.json()) as any;
      expect(up.status).toBe(201);
      // The other replica answers the new verdict (its cache was invalidated over LISTEN on the direct connection).
      for (const r of [a, b]) {
        const look = (await (await api(r, `/v1/images/${digest}/compliance`)).json()) as any;
        expect(look.is_compliant).toBe(!critical);
        expect(look.scanned_at).toBe(`2026-01-0${round + 1}T00:00:00.000Z`);
      }
      // Prisma Client reads through the pooler.
      const meta = await api(b, `/v1/reports/${body.report_id}`);
      expect(meta.status).toBe(200);
      expect(((await meta.json()) as any).finding_count).toBe(50);
      expect((await api(a, `/v1/reports/${body.report_id}/raw`)).status).toBe(200);
    }
    expect((await api(b, "/v1/policy", { method: "PUT", body: JSON.stringify({ max_severity_counts: { CRITICAL: 5 } }) })).status).toBe(200);
    const after = (await (await api(a, `/v1/images/${digest}/compliance`)).json()) as any;
    expect(after.is_compliant).toBe(true);
    expect((await api(a, "/v1/images?limit=5")).status).toBe(200);
  });

  test("when many uploads and lookups run at once on both replicas, then none fails (no prepared-statement or session state leaks between pooled clients)", async () => {
    const work: Array<Promise<number>> = [];
    for (let i = 0; i < 24; i++) {
      const r = replicas[i % 2]!;
      const digest = fakeDigest(`pooled-concurrent-${i % 6}`);
      work.push(api(r, "/v1/reports", { method: "POST", body: report(digest, new Date(Date.UTC(2026, 1, 1, 0, i)).toISOString(), "HIGH", 200) }).then(async (res) => (await res.arrayBuffer(), res.status)));
      work.push(api(r, `/v1/images/${digest}/compliance`).then(async (res) => (await res.arrayBuffer(), res.status)));
      work.push(api(r, `/v1/compliance/check`, { method: "POST", body: JSON.stringify({ images: [digest, fakeDigest("pooled-1")] }) }).then(async (res) => (await res.arrayBuffer(), res.status)));
    }
    const statuses = await Promise.all(work);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
  });

  test("when the Trivy Operator webhook (a per-digest session advisory lock) runs on both replicas at once, then it is served through the direct connection and both succeed", async () => {
    const resource = readFixtureJson("vulnerabilityreport_many.json");
    const digest = fakeDigest("pooled-operator");
    resource.report.artifact.digest = digest;
    const [x, y] = await Promise.all(
      replicas.map((r, i) =>
        api(r, "/v1/integrations/trivy-operator", { method: "POST", body: JSON.stringify({ verb: "update", operatorObject: { ...resource, report: { ...resource.report, updateTimestamp: `2026-03-0${i + 1}T00:00:00Z` } } }) }),
      ),
    );
    expect([x!.status, y!.status].sort()).toEqual([201, 201]);
    const look = await api(replicas[0]!, `/v1/images/${digest}/compliance`);
    expect(look.status).toBe(200);
    // More of them beside other traffic; afterwards no session advisory lock is left behind on a pooled server
    // connection (taken through the pooler, a lock and its unlock may land on different server connections).
    const more = await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const other = readFixtureJson("vulnerabilityreport_many.json");
        other.report.artifact.digest = fakeDigest(`pooled-operator-${i % 4}`);
        other.report.updateTimestamp = new Date(Date.UTC(2026, 3, 1, 0, i)).toISOString();
        return Promise.all([
          api(replicas[i % 2]!, "/v1/integrations/trivy-operator", { method: "POST", body: JSON.stringify({ verb: "update", operatorObject: other }) }).then(async (res) => (await res.arrayBuffer(), res.status)),
          api(replicas[(i + 1) % 2]!, "/v1/reports", { method: "POST", body: report(fakeDigest(`pooled-side-${i}`), "2026-04-01T00:00:00Z", "LOW", 20) }).then(async (res) => (await res.arrayBuffer(), res.status)),
        ]);
      }),
    );
    expect(more.flat().filter((s) => s !== 200 && s !== 201)).toEqual([]);
    const direct = new Client({ connectionString: database.url });
    await direct.connect();
    try {
      const { rows } = await direct.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1", [0x5ca9_0004]);
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await direct.end();
    }
  });

  test("when history retention runs from the CLI through the pooler, then it works (transaction-level advisory locks)", async () => {
    const run = await cli(["prune", "--older-than-days", "1"], { DATABASE_URL: pooledUrl, DATABASE_LISTEN_URL: database.url });
    expect(run.stderr).toContain("findings per statement");
    expect(run.code).toBe(0);
  });

  test("when PgBouncer's own statistics are read, then the service's transactions went through it and no replica logged an error", async () => {
    const u = new URL(database.url);
    const admin = new Client({ host: "127.0.0.1", port: bouncer.port, user: decodeURIComponent(u.username), database: "pgbouncer" });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ database: string; total_xact_count: string }>("SHOW STATS");
      const ours = rows.find((r) => r.database === u.pathname.slice(1));
      expect(Number(ours?.total_xact_count ?? 0)).toBeGreaterThan(50);
    } finally {
      await admin.end();
    }
    for (const r of replicas) expect(r.output()).not.toMatch(/"level":(50|60)/);
    expect(bouncer.log()).not.toMatch(/unsupported startup parameter|prepared statement .* does not exist/i);
  });
});
