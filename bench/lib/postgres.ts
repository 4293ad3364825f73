import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Pool } from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";
import { migrate } from "../../src/db/migrator";

export interface BenchPostgres {
  /** URL of the server's maintenance database; `database(name)` creates and migrates one per scenario. */
  serverUrl: string;
  version: string;
  database(name: string): Promise<string>;
  /** Drops a scenario's database (large ones free their disk before the next scenario). */
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A dedicated embedded PostgreSQL for the benchmark, in a temporary directory removed at the end. */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-bench-pg-"));
  const embedded = await startEmbeddedPostgres(dir, undefined, { port: 0 });
  const admin = new Pool({ connectionString: withDatabase(embedded.url, "postgres"), max: 1 });
  // pool.end() resolves before its idle connection has closed; stop() then shuts the server down, which terminates
  // that connection (57P01), an 'error' event that would otherwise end the process before results.json is written.
  admin.on("error", () => undefined);
  const { rows } = await admin.query<{ server_version: string }>("SHOW server_version");
  return {
    serverUrl: embedded.url,
    version: rows[0]!.server_version,
    async database(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
      const url = withDatabase(embedded.url, name);
      const pool = new Pool({ connectionString: url, max: 1 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      return url;
    },
    async dropDatabase(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    async stop() {
      await admin.end();
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
