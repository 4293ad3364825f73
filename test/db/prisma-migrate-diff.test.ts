import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * `prisma migrate diff` offline: Prisma's schema engine (WebAssembly, @prisma/schema-engine-wasm) compares the
 * database the SQL migrations build with prisma/schema.prisma, in everything Prisma can express. It runs as a process
 * (scripts/prisma-migrate-diff.mjs): the engine is an ES module with a .wasm, which jest's CommonJS loader cannot load.
 */
const run = promisify(execFile);
const SCRIPT = path.resolve(__dirname, "../../scripts/prisma-migrate-diff.mjs");
const SCHEMA = path.resolve(__dirname, "../../prisma/schema.prisma");

async function diff(databaseUrl: string, schemaPath: string): Promise<{ exitCode: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [SCRIPT, databaseUrl, schemaPath, "--json", "--script"], { timeout: 120_000 });
    return JSON.parse(stdout) as { exitCode: number; stdout: string };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (e.code === 2 && e.stdout) return JSON.parse(e.stdout) as { exitCode: number; stdout: string };
    throw new Error(`prisma-migrate-diff failed (${e.code}): ${e.stderr ?? error}`);
  }
}

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-schema-"));
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The statements of a diff, minus what Prisma cannot express and so always proposes: a generated column (e.g.
 * workload_containers.image_key) is described in schema.prisma with @default(dbgenerated(…)), which the engine
 * reads as a default the column lacks.
 */
async function expressibleStatements(stdout: string): Promise<string[]> {
  const { rows } = await t.db.pool.query<{ table_name: string; column_name: string }>(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND is_generated = 'ALWAYS'",
  );
  const generated = rows.map((r) => `ALTER TABLE "${r.table_name}" ALTER COLUMN "${r.column_name}" SET DEFAULT`);
  return stdout
    .split(/\n(?=-- )/)
    .map((block) => block.replace(/^-- .*\n/, "").trim())
    .filter((statement) => statement !== "" && !generated.some((g) => statement.startsWith(g)));
}

test("when the migrated database is compared with schema.prisma, then Prisma finds nothing it could express to change", async () => {
  const result = await diff(t.url, SCHEMA);
  expect(await expressibleStatements(result.stdout)).toEqual([]);
});

test("when schema.prisma drifts (an index it does not have, a foreign key action), then the diff names the change (the check above can fail)", async () => {
  const drifted = path.join(dir, "schema.prisma");
  fs.writeFileSync(
    drifted,
    fs
      .readFileSync(SCHEMA, "utf8")
      .replace(/\n\s*@@index\(\[tags\][^\n]*/, "")
      .replace(/(token +ApiToken +@relation\([^)]*?)onDelete: Cascade/, "$1onDelete: Restrict"),
  );
  const result = await diff(t.url, drifted);
  expect(result.exitCode).toBe(2);
  expect(await expressibleStatements(result.stdout)).toHaveLength(3); // DROP INDEX, DROP and ADD of the foreign key
  expect(result.stdout).toContain('DROP INDEX "scan_report_images_repository_tags_idx"');
  expect(result.stdout).toMatch(/ui_sessions_token_id_fkey[\s\S]*ON DELETE RESTRICT/);
});
