import crypto from "node:crypto";
import { Pool } from "pg";
import type { TestApp } from "../../support/test-app";

export interface AnalystLogin {
  /** The LOGIN role's name (current_user of the pool's sessions). */
  login: string;
  /** Connections as that login, to the test app's database. */
  pool: Pool;
  /** Ends the pool, then drops the role (roles belong to the whole server; drop it while the app's pool is open). */
  close(): Promise<void>;
}

/** A LOGIN user made a member of scan_analyst, the way a DBA grants it, connected to the app's database. */
export async function createAnalystLogin(app: TestApp, prefix: string): Promise<AnalystLogin> {
  const login = `${prefix}_${crypto.randomBytes(4).toString("hex")}`;
  const password = crypto.randomBytes(12).toString("hex");
  await app.database.db.pool.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}'`);
  await app.database.db.pool.query(`GRANT scan_analyst TO ${login}`);
  const url = new URL(app.database.url);
  url.username = login;
  url.password = password;
  const pool = new Pool({ connectionString: url.toString(), max: 2 });
  return {
    login,
    pool,
    async close() {
      await pool.end();
      await app.database.db.pool.query(`DROP ROLE IF EXISTS ${login}`);
    },
  };
}
