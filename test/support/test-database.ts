import crypto from "node:crypto";
import { Pool } from "pg";
import { openDatabase, type Database } from "../../src/db/database";
import { TEMPLATE_DATABASE, withDatabaseName } from "./database-url";

export interface TestDatabase {
  url: string;
  db: Database;
  /** Row counts of every table, to prove a refused request wrote nothing. */
  rowCounts(): Promise<Record<string, number>>;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_SERVER_URL;
  if (!url) throw new Error("TEST_SERVER_URL is not set: run tests through jest (test/support/global-setup.ts)");
  return url;
}

/** A fresh, migrated database copied from the template; dropped by `drop()`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `t_${crypto.randomBytes(6).toString("hex")}`;
  const admin = new Pool({ connectionString: withDatabaseName(serverUrl(), "postgres"), max: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = withDatabaseName(serverUrl(), name);
  const db = openDatabase({ url, poolSize: 10, connectionTimeoutMs: 5000 });
  return {
    url,
    db,
    async rowCounts() {
      const tables = await db.pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
      );
      const counts: Record<string, number> = {};
      for (const { table_name } of tables.rows) {
        const r = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${table_name}"`);
        counts[table_name] = Number(r.rows[0]!.n);
      }
      return counts;
    },
    async drop() {
      await db.close();
      const admin2 = new Pool({ connectionString: withDatabaseName(serverUrl(), "postgres"), max: 1 });
      try {
        await admin2.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin2.end();
      }
    },
  };
}
