/**
 * The pools and the Prisma Client. The one Pool serves Prisma (through its driver adapter) and the raw-SQL
 * repositories; the lookup pool serves admission lookups and token checks, with no Prisma on it.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Pool, type PoolConfig } from "pg";
import { PrismaClient } from "../generated/prisma/client";

/**
 * Two bounded pools. `pool` (shared by Prisma through its driver adapter and the raw-SQL bulk paths) serves writes
 * and reads that may queue behind each other under load: a request waits up to 10 s for a connection. `lookupPool`
 * serves admission lookups and token checks: they must fail within a second when the database is gone, and must never
 * queue behind a burst of uploads.
 */
export interface Database {
  pool: Pool;
  lookupPool: Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /** How long a write or read waits for a free or new connection before failing. */
  connectionTimeoutMs?: number;
  /** The same for lookups and token checks, which must fail fast when the database is gone. */
  lookupConnectionTimeoutMs?: number;
  applicationName?: string;
}

const LOOKUP_STATEMENT_TIMEOUT_MS = 2000;

/**
 * pg-pool listens for 'error' only on idle clients. A client that loses its connection while checked out (the backend
 * terminated mid-COPY or mid-transaction, a fast PostgreSQL shutdown) emits 'error' with no listener, and node ends
 * the process — with every in-flight lookup of the replica. Every client gets a listener of its own the moment the
 * pool creates it, whoever checks it out (inTransaction, COPY, Prisma's adapter, a session lock): the query in
 * flight fails with the connection error (answered 503), and the pool discards the client on release because it is
 * no longer queryable.
 */
function guardCheckedOutClients(pool: Pool): void {
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
  });
}

export function openDatabase(options: DatabaseOptions): Database {
  const size = options.poolSize ?? 10;
  const config: PoolConfig = {
    connectionString: options.url,
    max: size,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    query_timeout: (options.statementTimeoutMs ?? 30_000) + 1000,
    application_name: options.applicationName ?? "scan-registry",
    keepAlive: true,
  };
  const pool = new Pool(config);
  const lookupPool = new Pool({
    ...config,
    max: Math.max(2, Math.ceil(size / 2)),
    connectionTimeoutMillis: options.lookupConnectionTimeoutMs ?? 1000,
    // Admission has a 10 s webhook budget shared with everything else Kyverno does: a hung database must fail a
    // lookup in seconds, not after the 30 s that writes are allowed.
    statement_timeout: LOOKUP_STATEMENT_TIMEOUT_MS,
    query_timeout: LOOKUP_STATEMENT_TIMEOUT_MS + 1000,
    application_name: `${config.application_name}-lookup`,
  });
  // An idle client losing its connection (database restart) must not crash the process; the pool replaces it.
  pool.on("error", () => undefined);
  lookupPool.on("error", () => undefined);
  guardCheckedOutClients(pool);
  guardCheckedOutClients(lookupPool);
  const prisma = prismaOver(pool);
  return {
    pool,
    lookupPool,
    prisma,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await lookupPool.end().catch(() => undefined);
    },
  };
}

/** One round trip: whether the pool can reach the database now (throws when it cannot). */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query("SELECT 1");
}

/** A Prisma Client on an existing pool (through the pg driver adapter): the pool's owner ends it. */
export function prismaOver(pool: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}
