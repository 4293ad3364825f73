import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Pool } from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";
import { migrate } from "../../src/db/migrator";
import { TEMPLATE_DATABASE, withDatabaseName } from "./database-url";
import { fixtureDirCandidates } from "./fixtures";

/**
 * One PostgreSQL server per test run: DATABASE_URL when set (CI runs the suite once against PostgreSQL 15 that way),
 * else an embedded server in a temporary directory. Migrations are applied once to a template database; each test
 * file then copies it (test/support/test-database.ts), so files never see each other's rows.
 */
export default async function globalSetup(): Promise<void> {
  // One clear failure instead of hundreds of ENOENTs; the workers inherit the location found here.
  const fixtures = fixtureDirCandidates().find((dir) => fs.existsSync(dir));
  if (!fixtures) throw new Error(`The shared Trivy fixtures were not found at ${fixtureDirCandidates().join(" or ")}: set FIXTURES_DIR.`);
  process.env.FIXTURES_DIR = fixtures;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-test-"));
    const embedded = await startEmbeddedPostgres(dir, undefined, { port: 0 });
    (globalThis as Record<string, unknown>).__EMBEDDED_PG__ = { stop: embedded.stop, dir };
    serverUrl = embedded.url;
  }
  const admin = new Pool({ connectionString: withDatabaseName(serverUrl, "postgres"), max: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const template = new Pool({ connectionString: withDatabaseName(serverUrl, TEMPLATE_DATABASE), max: 1 });
  try {
    await migrate(template);
  } finally {
    await template.end();
  }
  process.env.TEST_SERVER_URL = serverUrl;
}
