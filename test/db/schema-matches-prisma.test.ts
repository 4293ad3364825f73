import fs from "node:fs";
import path from "node:path";
import type { Queryable } from "../../src/db/queryable";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { readPrismaSchema, type PrismaColumn, type PrismaModel } from "./prisma-schema-model";

/**
 * prisma migrate cannot run here, so the SQL migrations are hand-written. This proves the migrated database matches
 * schema.prisma in everything Prisma can express: every column with the type and nullability the generated client
 * expects, every table a model, and (for every model's table) the same primary keys, unique constraints, indexes and
 * foreign keys, by name, columns, method, partial predicate and referential actions. A migration that adds an index
 * schema.prisma does not describe (or the reverse) fails here.
 */
type PrismaField = PrismaColumn;

const SCHEMA_PATH = path.join(__dirname, "../../prisma/schema.prisma");
const readSchema = () => fs.readFileSync(SCHEMA_PATH, "utf8");
const parsePrismaSchema = (text: string): PrismaField[] => readPrismaSchema(text).flatMap((m) => m.columns);

function expectedUdt(f: PrismaField): string {
  if (f.native === "Uuid") return "uuid";
  if (f.native === "Timestamptz") return "timestamptz";
  if (f.native === "Date") return "date";
  if (f.native === "Decimal" || f.type === "Decimal") return "numeric";
  const base: Record<string, string> = {
    String: "text",
    Int: "int4",
    BigInt: "int8",
    Boolean: "bool",
    DateTime: "timestamp",
    Json: "jsonb",
    Bytes: "bytea",
    Float: "float8",
  };
  return (f.list ? "_" : "") + base[f.type]!;
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t.drop());

test("every model field of schema.prisma exists in the migrated database with its type and nullability", async () => {
  const fields = parsePrismaSchema(readSchema());
  expect(fields.length).toBeGreaterThan(50);
  const columns = await t.db.pool.query<{ table_name: string; column_name: string; udt_name: string; is_nullable: string }>(
    "SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public'",
  );
  const byKey = new Map(columns.rows.map((c) => [`${c.table_name}.${c.column_name}`, c]));
  const mismatches: string[] = [];
  for (const f of fields) {
    const c = byKey.get(`${f.table}.${f.column}`);
    if (!c) {
      mismatches.push(`${f.table}.${f.column}: missing`);
      continue;
    }
    if (c.udt_name !== expectedUdt(f)) mismatches.push(`${f.table}.${f.column}: ${c.udt_name}, schema says ${expectedUdt(f)}`);
    const nullable = c.is_nullable === "YES";
    if (nullable !== f.optional) mismatches.push(`${f.table}.${f.column}: nullable=${nullable}, schema says ${f.optional}`);
  }
  expect(mismatches).toEqual([]);
});

test("every table of the migrations is a model of schema.prisma", async () => {
  const tables = new Set(parsePrismaSchema(readSchema()).map((f) => f.table));
  const rows = await t.db.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'",
  );
  expect(rows.rows.map((r) => r.table_name).filter((n) => !tables.has(n))).toEqual([]);
});

test("the generated client reads and writes through the pg adapter", async () => {
  const policy = await t.db.prisma.policyVersion.findFirst({ orderBy: { version: "desc" } });
  expect(policy?.version).toBe(1);
});

/** An index or key as one comparable line: table, name, kind, method, columns, predicate. */
const normalizePredicate = (p: string | null) => (p === null ? "" : p.replace(/\s+/g, " ").trim().replace(/^\((.*)\)$/, "$1").toLowerCase());
const indexLine = (i: { table: string; name: string; columns: string[]; unique: boolean; primary: boolean; method: string; where: string | null }) =>
  `${i.table}.${i.name}: ${i.primary ? "primary key" : i.unique ? "unique" : "index"} ${i.method} (${i.columns.join(", ")})${i.where ? ` WHERE ${normalizePredicate(i.where)}` : ""}`;
const foreignKeyLine = (f: { table: string; name: string; columns: string[]; references: { table: string; columns: string[] }; onDelete: string; onUpdate: string }) =>
  `${f.table}.${f.name}: (${f.columns.join(", ")}) → ${f.references.table} (${f.references.columns.join(", ")}) ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate}`;

async function databaseIndexes(q: Queryable, tables: readonly string[]): Promise<string[]> {
  const { rows } = await q.query<{ table: string; name: string; unique: boolean; primary: boolean; method: string; where: string | null; columns: string[] }>(
    `SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique, ix.indisprimary AS primary, am.amname AS method,
       pg_get_expr(ix.indpred, ix.indrelid) AS where,
       array(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
     FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
     -- Expression indexes (indexprs) have no Prisma form: schema.prisma names them in a comment instead.
     WHERE n.nspname = 'public' AND t.relname = ANY($1::text[]) AND ix.indexprs IS NULL`,
    [tables],
  );
  return rows.map(indexLine).sort();
}

const ACTIONS: Record<string, string> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" };

async function databaseForeignKeys(q: Queryable, tables: readonly string[]): Promise<string[]> {
  const { rows } = await q.query<{ table: string; name: string; columns: string[]; ref_table: string; ref_columns: string[]; del: string; upd: string }>(
    `SELECT t.relname AS table, c.conname AS name, rt.relname AS ref_table, c.confdeltype AS del, c.confupdtype AS upd,
       array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE c.contype = 'f' AND n.nspname = 'public' AND t.relname = ANY($1::text[])`,
    [tables],
  );
  return rows
    .map((r) => foreignKeyLine({ table: r.table, name: r.name, columns: r.columns, references: { table: r.ref_table, columns: r.ref_columns }, onDelete: ACTIONS[r.del]!, onUpdate: ACTIONS[r.upd]! }))
    .sort();
}

/** What differs between the schema's and the database's indexes and foreign keys ("-": schema only, "+": database only). */
async function drift(models: readonly PrismaModel[]): Promise<string[]> {
  const tables = models.map((m) => m.table);
  const expected = [...models.flatMap((m) => m.indexes.map(indexLine)), ...models.flatMap((m) => m.foreignKeys.map(foreignKeyLine))];
  const actual = [...(await databaseIndexes(t.db.pool, tables)), ...(await databaseForeignKeys(t.db.pool, tables))];
  return [...expected.filter((e) => !actual.includes(e)).map((e) => `- ${e}`), ...actual.filter((a) => !expected.includes(a)).map((a) => `+ ${a}`)].sort();
}

test("every model's primary key, unique constraints, indexes and foreign keys are the migrated database's, and no more", async () => {
  const models = readPrismaSchema(readSchema());
  expect(models.flatMap((m) => m.indexes).length).toBeGreaterThan(20);
  expect(models.flatMap((m) => m.foreignKeys).length).toBeGreaterThan(4);
  expect(await drift(models)).toEqual([]);
});

test("when schema.prisma drifts from the migrations, then the comparison names the difference (the check above can fail)", async () => {
  const schema = readSchema();
  const withoutGin = schema.replace(/\n\s*@@index\(\[tags\][^\n]*/, "");
  expect(withoutGin).not.toBe(schema);
  expect(await drift(readPrismaSchema(withoutGin))).toEqual([expect.stringMatching(/^\+ scan_report_images\.scan_report_images_repository_tags_idx: index gin \(tags\)$/)]);
  const notPartial = schema.replace(/, where: raw\("valid_until IS NOT NULL"\)/, "");
  expect(await drift(readPrismaSchema(notPartial))).toHaveLength(2);
  const cascadeOnUpdate = schema.replace(/(token +ApiToken +@relation\([^)]*?), onUpdate: NoAction/, "$1");
  expect(await drift(readPrismaSchema(cascadeOnUpdate))).toEqual([
    expect.stringMatching(/^\+ ui_sessions\.ui_sessions_token_id_fkey: .* ON UPDATE NO ACTION$/),
    expect.stringMatching(/^- ui_sessions\.ui_sessions_token_id_fkey: .* ON UPDATE CASCADE$/),
  ]);
});
