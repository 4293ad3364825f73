#!/usr/bin/env node
// `prisma migrate diff` without the native schema engine (which this network cannot download): Prisma's own schema
// engine compiled to WebAssembly (@prisma/schema-engine-wasm), talking to PostgreSQL through the pg driver adapter.
//
//   node scripts/prisma-migrate-diff.mjs <database-url> [schema.prisma] [--script]
//
// Compares the database at <database-url> (migrated by src/db/migrator.ts) with prisma/schema.prisma and prints what
// Prisma would change to make the database match the schema: nothing when they agree. With --script it prints SQL,
// which is how to draft a new migration: edit schema.prisma, run this against a migrated database, review the SQL.
// Prints JSON {exitCode, stdout} with --json (exitCode 2: they differ). schema_migrations, the migrator's own table,
// is left out.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Pool } = require("pg");
const { PrismaPg } = require("@prisma/adapter-pg");
const { bindMigrationAwareSqlAdapterFactory } = require("@prisma/driver-adapter-utils");

/** Loads the engine as Prisma's CLI does: instantiate the .wasm with its wasm-bindgen glue as the import module. */
async function loadSchemaEngine() {
  const dir = path.dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg"));
  const glue = await import(path.join(dir, "schema_engine_bg.js"));
  const module = await WebAssembly.compile(fs.readFileSync(path.join(dir, "schema_engine_bg.wasm")));
  const imports = {};
  for (const { module: name } of WebAssembly.Module.imports(module)) imports[name] = glue;
  const instance = await WebAssembly.instantiate(module, imports);
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  // The engine reports a Rust panic's message here before it aborts.
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message) => process.stderr.write(`schema engine panic: ${message}\n`) };
  return glue;
}

/**
 * The pg adapter has no column type for PostgreSQL's internal "char" (pg_constraint.contype, confdeltype, …), which
 * the engine's PostgreSQL describer reads: the adapter would refuse it as UnsupportedNativeDataType. Its values are
 * reported as text by pg and marked Character (ColumnTypeEnum 6) for the engine.
 */
const CHAR_OID = 18;
const TEXT_OID = 25;
const CHARACTER_COLUMN = 6;

function charAwareAdapterFactory(pool) {
  const charColumns = new WeakMap();
  const remember = (result) => {
    const columns = [];
    (result?.fields ?? []).forEach((field, i) => {
      if (field.dataTypeID === CHAR_OID) {
        field.dataTypeID = TEXT_OID;
        columns.push(i);
      }
    });
    if (columns.length && result.rows) charColumns.set(result.rows, columns);
    return result;
  };
  const patchClient = (client) => {
    const query = client.query.bind(client);
    client.query = (...args) => {
      const result = query(...args);
      return result && typeof result.then === "function" ? result.then(remember) : result;
    };
  };
  patchClient(pool);
  pool.on("connect", patchClient);
  const markColumns = (queryable) => {
    const queryRaw = queryable.queryRaw.bind(queryable);
    queryable.queryRaw = async (query) => {
      const result = await queryRaw(query);
      for (const i of charColumns.get(result.rows) ?? []) result.columnTypes[i] = CHARACTER_COLUMN;
      return result;
    };
    return queryable;
  };
  const factory = new PrismaPg(pool);
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = markColumns(await connect());
    const startTransaction = adapter.startTransaction?.bind(adapter);
    if (startTransaction) adapter.startTransaction = async (...args) => markColumns(await startTransaction(...args));
    return adapter;
  };
  return bindMigrationAwareSqlAdapterFactory(factory);
}

/** The diff from the database to the schema: {exitCode: 0 | 2, stdout}. */
export async function migrateDiff({ databaseUrl, schemaPath, script = false }) {
  const engineModule = await loadSchemaEngine();
  const schema = fs.readFileSync(schemaPath, "utf8");
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const engine = await engineModule.SchemaEngine.new({ datamodels: [[path.basename(schemaPath), schema]] }, () => undefined, charAwareAdapterFactory(pool));
    const files = { files: [{ path: path.basename(schemaPath), content: schema }] };
    const result = await engine.diff({
      from: { tag: "schemaDatasource", ...files, configDir: path.dirname(schemaPath) },
      to: { tag: "schemaDatamodel", ...files },
      script,
      exitCode: true,
      filters: { externalTables: ["public.schema_migrations"], externalEnums: [] },
    });
    engine.free?.();
    return { exitCode: result.exitCode, stdout: (result.stdout ?? "").trim() };
  } finally {
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const positional = args.filter((a) => !a.startsWith("--"));
  const [databaseUrl, schemaPath = path.join(path.dirname(new URL(import.meta.url).pathname), "../prisma/schema.prisma")] = positional;
  if (!databaseUrl) {
    process.stderr.write("usage: node scripts/prisma-migrate-diff.mjs <database-url> [schema.prisma] [--script] [--json]\n");
    process.exit(64);
  }
  migrateDiff({ databaseUrl, schemaPath: path.resolve(schemaPath), script: args.includes("--script") }).then(
    (result) => {
      process.stdout.write(args.includes("--json") ? `${JSON.stringify(result)}\n` : `${result.stdout || "No difference detected."}\n`);
      process.exit(result.exitCode === 2 ? 2 : 0);
    },
    (error) => {
      process.stderr.write(`${error?.message ?? error}\n`);
      process.exit(1);
    },
  );
}
