import crypto from "node:crypto";
import { Pool } from "pg";
import { openDatabase, type Database } from "../../src/db/database";
import { withDatabaseName } from "./database-url";

export interface EmptyDatabase {
  url: string;
  /** Opens one more connection pool on the database, as another replica of the service would; closed by `drop()`. */
  open(): Database;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_SERVER_URL;
  if (!url) throw new Error("TEST_SERVER_URL is not set: run tests through jest (test/support/global-setup.ts)");
  return url;
}

async function asAdmin(sql: string): Promise<void> {
  const admin = new Pool({ connectionString: withDatabaseName(serverUrl(), "postgres"), max: 1 });
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * A database with nothing in it (copied from template0, not from the migrated test template), for tests of the
 * migrator itself; dropped, with every pool opened on it, by `drop()`.
 */
export async function createEmptyDatabase(): Promise<EmptyDatabase> {
  const name = `e_${crypto.randomBytes(6).toString("hex")}`;
  await asAdmin(`CREATE DATABASE ${name} TEMPLATE template0`);
  const url = withDatabaseName(serverUrl(), name);
  const opened: Database[] = [];
  return {
    url,
    open() {
      const db = openDatabase({ url, poolSize: 2, connectionTimeoutMs: 5000 });
      opened.push(db);
      return db;
    },
    async drop() {
      await Promise.all(opened.map((db) => db.close()));
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
