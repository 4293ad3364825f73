import type { Scope } from "../../src/auth/scopes";
import supertest from "supertest";
import { loadConfig, type Config } from "../../src/config";
import { createLogger, type Logger } from "../../src/logger";
import { startService, type RunningService } from "../../src/server";
import { createTestDatabase, type TestDatabase } from "./test-database";

export interface TestApp {
  service: RunningService;
  database: TestDatabase;
  /** supertest agent against the running server. */
  http: ReturnType<typeof supertest>;
  /** An admin token. */
  adminToken: string;
  /** Creates a token with the given scopes and returns it. */
  token(...scopes: Scope[]): Promise<string>;
  /** Waits until queued admission decisions are written. */
  flushDecisions(): Promise<void>;
  close(): Promise<void>;
}

export const TEST_ADMIN_TOKEN = "sr_test_admin_token_0123456789abcdef";

/**
 * Starts the real service (HTTP on an ephemeral loopback port) on a fresh copy of the migrated test database.
 * `env` overrides configuration as a user would set it; `clock` makes time injectable.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; clock?: () => Date; database?: TestDatabase; logger?: Logger } = {},
): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const config: Config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: database.url,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    // The AWS SDK reads AWS's variables from process.env; the service's configuration sees the same ones.
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("AWS_"))),
    ...options.env,
  });
  const service = await startService(config, { logger: options.logger ?? createLogger(config.logLevel), clock: options.clock });
  // The start-up trends snapshot writes a row in the background: let it land (run() joins it) so that a test's
  // "nothing was written" row counts do not race it.
  await service.snapshots.run().catch(() => undefined);
  return {
    service,
    // Lookups queue admission decisions and write them in the background (src/lookup/decision-log.ts): a row count
    // taken to prove "nothing was written" first lets the earlier tests' queued decisions land, or they land between
    // the two counts (seen in CI: admission_decisions 0 → 163 across one refused ECR event).
    database: {
      ...database,
      rowCounts: async () => {
        await service.deps.decisionLog.flush();
        return database.rowCounts();
      },
    },
    http: supertest(service.url),
    adminToken: TEST_ADMIN_TOKEN,
    async token(...scopes) {
      const created = await service.deps.tokens.create({ name: `test-${scopes.join("+")}`, scopes, expiresAt: null });
      return created.token;
    },
    flushDecisions: () => service.deps.decisionLog.flush(),
    async close() {
      await service.close();
      if (!options.database) await database.drop();
    },
  };
}

/**
 * POSTs bytes exactly as given (supertest would JSON-encode a Buffer sent as application/json), the way
 * `curl --data-binary @report.json.gz -H 'content-encoding: gzip'` does.
 */
export async function postBytes(
  baseUrl: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}${path}`, { method: "POST", body, headers });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
