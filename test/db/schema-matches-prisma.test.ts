import fs from "node:fs";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * prisma migrate cannot run here, so the SQL migrations are hand-written. This proves the migrated database has
 * every column schema.prisma declares, with the type and nullability the generated client expects.
 */
interface PrismaField {
  model: string;
  table: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  native: string | null;
}

function parsePrismaSchema(text: string): PrismaField[] {
  const fields: PrismaField[] = [];
  for (const block of text.matchAll(/model\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
    const model = block[1]!;
    const body = block[2]!;
    const table = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? model;
    for (const line of body.split("\n")) {
      const m = /^\s*(\w+)\s+(\w+)(\[\])?(\?)?(.*)$/.exec(line);
      if (!m || line.trim().startsWith("//") || line.trim().startsWith("@@")) continue;
      const [, name, type, list, optional, attrs] = m;
      if (/@relation/.test(attrs!) || /^[A-Z]/.test(type!) && !SCALARS.has(type!)) continue;
      fields.push({
        model,
        table,
        column: /@map\("([^"]+)"\)/.exec(attrs!)?.[1] ?? name!,
        type: type!,
        optional: !!optional,
        list: !!list,
        native: /@db\.(\w+)/.exec(attrs!)?.[1] ?? null,
      });
    }
  }
  return fields;
}

const SCALARS = new Set(["String", "Int", "BigInt", "Boolean", "DateTime", "Json", "Bytes", "Decimal", "Float"]);

function expectedUdt(f: PrismaField): string {
  if (f.native === "Uuid") return "uuid";
  if (f.native === "Timestamptz") return "timestamptz";
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
  const schema = fs.readFileSync(path.join(__dirname, "../../prisma/schema.prisma"), "utf8");
  const fields = parsePrismaSchema(schema);
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
  const schema = fs.readFileSync(path.join(__dirname, "../../prisma/schema.prisma"), "utf8");
  const tables = new Set(parsePrismaSchema(schema).map((f) => f.table));
  const rows = await t.db.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'",
  );
  expect(rows.rows.map((r) => r.table_name).filter((n) => !tables.has(n))).toEqual([]);
});

test("the generated client reads and writes through the pg adapter", async () => {
  const policy = await t.db.prisma.policyVersion.findFirst({ orderBy: { version: "desc" } });
  expect(policy?.version).toBe(1);
});
