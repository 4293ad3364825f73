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
  /**
   * Session-level work that a transaction pooler cannot carry (session advisory locks, migrations): connections to
   * the direct URL (DATABASE_LISTEN_URL; the same database as `pool` when it is unset). At most 2 connections.
   */
  sessionPool: Pool;
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
  /** A direct connection (not through a pooler) for session-level work; default `url`. */
  directUrl?: string;
  /**
   * `url` is a transaction pooler (PgBouncer pool_mode=transaction): no session settings are sent at connect (PgBouncer
   * refuses unknown startup parameters); statement timeouts are then the client-side query_timeout, and the server's
   * own setting (docs/operations.md).
   */
  pooled?: boolean;
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
  const pooled = options.pooled === true;
  const pool = new Pool(pooled ? { ...config, statement_timeout: undefined } : config);
  const lookupPool = new Pool({
    ...config,
    max: Math.max(2, Math.ceil(size / 2)),
    connectionTimeoutMillis: options.lookupConnectionTimeoutMs ?? 1000,
    // Admission has a 10 s webhook budget shared with everything else Kyverno does: a hung database must fail a
    // lookup in seconds, not after the 30 s that writes are allowed.
    statement_timeout: pooled ? undefined : LOOKUP_STATEMENT_TIMEOUT_MS,
    query_timeout: LOOKUP_STATEMENT_TIMEOUT_MS + 1000,
    application_name: `${config.application_name}-lookup`,
  });
  const sessionPool = new Pool({ ...config, connectionString: options.directUrl ?? options.url, max: 2, application_name: `${config.application_name}-session` });
  // An idle client losing its connection (database restart) must not crash the process; the pool replaces it.
  pool.on("error", () => undefined);
  lookupPool.on("error", () => undefined);
  sessionPool.on("error", () => undefined);
  guardCheckedOutClients(pool);
  guardCheckedOutClients(lookupPool);
  guardCheckedOutClients(sessionPool);
  const prisma = prismaOver(pool);
  return {
    pool,
    lookupPool,
    sessionPool,
    prisma,
    async close() {
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await lookupPool.end().catch(() => undefined);
      await sessionPool.end().catch(() => undefined);
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
