/**
 * The migrator: applies prisma/migrations/<timestamp>_<name>/migration.sql in order, each in a transaction, under an
 * advisory lock, recorded in schema_migrations. Raw SQL: the migrations are SQL files (Prisma's migration engine
 * cannot run here), and DDL has no Prisma Client form.
 */
import fs from "node:fs";
import path from "node:path";
import type { Pool } from "pg";

/** Where the SQL migrations live: prisma/migrations/<timestamp>_<name>/migration.sql. */
const MIGRATIONS_DIR = path.resolve(__dirname, "../../prisma/migrations");

// An arbitrary constant: replicas starting together queue on this lock instead of racing each other.
const MIGRATION_LOCK_ID = 0x5ca9_0001;

export interface Migration {
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8") }));
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session advisory lock, recording each
 * in schema_migrations. Returns the names applied.
 */
export async function migrate(pool: Pool, migrations = readMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("SET statement_timeout = 0");
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query(
      `COMMENT ON TABLE schema_migrations IS 'Applied SQL migrations (prisma/migrations), recorded by the service''s migrator.';
       COMMENT ON COLUMN schema_migrations.name IS 'Migration folder name (<timestamp>_<name>).';
       COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';`,
    );
    const done = new Set(
      (await client.query<{ name: string }>("SELECT name FROM schema_migrations")).rows.map((r) => r.name),
    );
    for (const migration of migrations) {
      if (done.has(migration.name)) continue;
      try {
        await client.query("BEGIN");
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (name) VALUES ($1)", [migration.name]);
        await client.query("COMMIT");
        applied.push(migration.name);
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID]).catch(() => undefined);
    await client.query("RESET statement_timeout").catch(() => undefined);
    client.release();
  }
  return applied;
}
