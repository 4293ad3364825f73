import { PrismaPg } from "@prisma/adapter-pg";
import { Pool, type PoolConfig } from "pg";
import { PrismaClient } from "../generated/prisma/client";

/**
 * One pg Pool shared by Prisma (through its driver adapter) and the raw-SQL bulk paths, so the service has one
 * bounded set of connections with one set of timeouts.
 */
export interface Database {
  pool: Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /** How long a request waits for a free connection or a new one before failing (fail fast when the DB is gone). */
  connectionTimeoutMs?: number;
  applicationName?: string;
}

export function openDatabase(options: DatabaseOptions): Database {
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 1000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    query_timeout: (options.statementTimeoutMs ?? 30_000) + 1000,
    application_name: options.applicationName ?? "scan-registry",
    keepAlive: true,
  };
  const pool = new Pool(config);
  // An idle client losing its connection (database restart) must not crash the process; the pool replaces it.
  pool.on("error", () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    pool,
    prisma,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}
