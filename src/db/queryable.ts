import type { Pool, PoolClient, QueryResult, QueryResultRow } from "pg";

/** A pool or a client inside a transaction: repositories accept either. */
export type Queryable = Pick<Pool | PoolClient, "query"> & {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
};

/** Runs `work` in one transaction; rolls back on any error, so a failed request leaves nothing behind. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
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

export const VERDICT_CHANNEL = "scan_registry_verdicts";
export const POLICY_CHANNEL = "scan_registry_policy";

/** Queues a NOTIFY (delivered at commit) naming the digests whose verdict changed; "*" means all. */
export async function notifyVerdictsChanged(q: Queryable, digests: readonly string[] | "*"): Promise<void> {
  if (digests === "*") {
    await q.query("SELECT pg_notify($1, '*')", [VERDICT_CHANNEL]);
    return;
  }
  // NOTIFY payloads must stay under 8000 bytes: 100 digests of 71 characters each fit.
  for (let i = 0; i < digests.length; i += 100) {
    await q.query("SELECT pg_notify($1, $2)", [VERDICT_CHANNEL, digests.slice(i, i + 100).join(",")]);
  }
}
