import { migrate, readMigrations } from "../../src/db/migrator";
import { createEmptyDatabase } from "../support/empty-database";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

test("when migrations run again, then nothing is reapplied", async () => {
  expect(await migrate(t.db.pool)).toEqual([]);
});

test("when two replicas migrate at once, then both succeed and each migration is recorded once", async () => {
  // On an empty database, so that there is something to migrate (the test database is a copy of a migrated
  // template): between them the two replicas apply every migration exactly once, and all are recorded.
  const names = readMigrations().map((m) => m.name);
  expect(names.length).toBeGreaterThan(0);
  const empty = await createEmptyDatabase();
  try {
    const replicas = [empty.open(), empty.open()];
    const applied = await Promise.all(replicas.map((r) => migrate(r.pool)));
    expect(applied.flat().sort()).toEqual(names);
    const recorded = await replicas[0]!.pool.query<{ name: string }>("SELECT name FROM schema_migrations");
    expect(recorded.rows.map((r) => r.name).sort()).toEqual(names);
  } finally {
    await empty.drop();
  }

  const results = await Promise.all([migrate(t.db.pool), migrate(t.db.pool)]);
  expect(results).toEqual([[], []]);
  const rows = await t.db.pool.query("SELECT name, count(*) FROM schema_migrations GROUP BY name HAVING count(*) > 1");
  expect(rows.rowCount).toBe(0);
});

test("every table, view and column carries a COMMENT ON", async () => {
  const missing = await t.db.pool.query<{ relname: string; attname: string | null }>(`
    SELECT c.relname, NULL AS attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL
    UNION ALL
    SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND col_description(c.oid, a.attnum) IS NULL`);
  expect(missing.rows).toEqual([]);
});
