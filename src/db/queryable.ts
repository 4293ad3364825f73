/**
 * Transactions and the policy lock shared by every repository. Raw SQL: BEGIN/COMMIT on a pg client and advisory
 * locks, which the use cases' transactions (re-evaluation, ingest) need and Prisma Client cannot join.
 */
import type { Pool, PoolClient, QueryResult, QueryResultRow } from "pg";

/** A pool or a client inside a transaction: repositories accept either. */
export type Queryable = Pick<Pool | PoolClient, "query"> & {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
};

/**
 * Runs `work` in one REPEATABLE READ, READ ONLY transaction: one snapshot for every statement (a dry run's batches
 * agree with each other), no write possible, no lock taken.
 */
export async function inReadOnlySnapshot<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return work(tx);
  });
}

/**
 * Runs `work` while this session holds the two-key advisory lock (classId, hashtext(key)): serialises work on one
 * key across replicas outside any transaction. The lock's connection is held for the duration of `work`.
 */
export async function withSessionAdvisoryLock<T>(pool: Pool, classId: number, key: string, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The lock's connection sits idle during `work`: if it is lost meanwhile, it is discarded, never reused.
  let broken: Error | undefined;
  const onLost = (error: Error) => {
    broken ??= error;
  };
  client.on("error", onLost);
  try {
    await client.query("SELECT pg_advisory_lock($1, hashtext($2))", [classId, key]);
    try {
      return await work();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1, hashtext($2))", [classId, key]).catch((error: Error) => {
        broken ??= error;
        throw error;
      });
    }
  } finally {
    client.removeListener("error", onLost);
    client.release(broken);
  }
}

/**
 * Runs `work` in one transaction; rolls back on any error, so a failed request leaves nothing behind. A connection
 * lost during the transaction (its 'error' event) is never reused: the client is discarded on release, and the
 * error of the statement in flight (mapped to 503 by src/http/problem.ts) is what the caller sees. PostgreSQL rolls
 * back a transaction whose connection ended, so nothing half-written remains.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onLost = (error: Error) => {
    broken ??= error;
  };
  client.on("error", onLost);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError; // e.g. a query timeout left a statement running: the connection must not be reused
    });
    throw error;
  } finally {
    client.removeListener("error", onLost);
    client.release(broken);
  }
}

/**
 * Policy writes hold this advisory lock exclusively while they re-evaluate; ingest holds it shared, so no upload
 * can commit a verdict under a policy version that a concurrent PUT has already replaced.
 */
const POLICY_LOCK_ID = 0x5ca9_0002;

/**
 * Takes the policy lock exclusively for the rest of the transaction (policy and exception writers). Ingest, lookups
 * and the sweeper hold it shared, so nothing can commit a verdict under a policy version or exception set that
 * this transaction is replacing.
 */
export async function lockPolicyExclusively(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [POLICY_LOCK_ID]);
}

/** Takes the policy lock shared for the rest of the transaction, before a verdict is computed and stored. */
export async function lockPolicyShared(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock_shared($1)", [POLICY_LOCK_ID]);
}

/** lockPolicyShared without waiting: false when a policy writer holds the lock. */
export async function tryLockPolicyShared(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock_shared($1) AS locked", [POLICY_LOCK_ID]);
  return rows[0]!.locked;
}
