/**
 * The LISTEN/NOTIFY channels that keep every replica's caches in step (src/lookup/change-listener.ts runs the
 * listener; writers queue notifications inside their transactions, delivered at commit). Raw SQL: NOTIFY, LISTEN and
 * pg_stat_activity have no Prisma form, and the listener holds a dedicated connection of its own.
 */
import type { Queryable } from "./queryable";

export const VERDICT_CHANNEL = "scan_registry_verdicts";
export const POLICY_CHANNEL = "scan_registry_policy";
/** A barrier: "every replica, acknowledge once you have applied everything committed before this". */
export const SYNC_CHANNEL = "scan_registry_sync";
/** Acknowledgements of barriers: `<barrier id>:<listener backend pid>`. */
export const SYNC_ACK_CHANNEL = "scan_registry_sync_ack";
/** application_name of a listener session once it is LISTENing (set only after LISTEN, so a barrier can count it). */
export const LISTENER_APPLICATION_NAME = "scan-registry-listener";

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

/** Tells every replica (LISTEN in ChangeListener) to drop its cached policy and verdicts; delivered at commit. */
export async function notifyPolicyChanged(q: Queryable, payload: string): Promise<void> {
  await q.query("SELECT pg_notify($1, $2)", [POLICY_CHANNEL, payload]);
}

/**
 * LISTENs on every channel, then names the session as a listener (only now, so a barrier counts it only once it
 * hears everything); returns the session's backend pid.
 */
export async function listenForChanges(q: Queryable): Promise<number> {
  for (const channel of [VERDICT_CHANNEL, POLICY_CHANNEL, SYNC_CHANNEL, SYNC_ACK_CHANNEL]) await q.query(`LISTEN ${channel}`);
  const { rows } = await q.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, set_config('application_name', $1, false)", [LISTENER_APPLICATION_NAME]);
  return rows[0]!.pid;
}

/**
 * Commits a barrier NOTIFY and returns the backend pids of the listener sessions listening when it committed (one
 * statement, so the two agree): each of them must acknowledge it.
 */
export async function sendBarrier(q: Queryable, id: string): Promise<number[]> {
  const { rows } = await q.query<{ pids: number[] }>(
    `SELECT pg_notify($1, $2), array(SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $3) AS pids`,
    [SYNC_CHANNEL, id, LISTENER_APPLICATION_NAME],
  );
  return rows[0]?.pids ?? [];
}

/** Acknowledges a barrier on behalf of the listener session `pid`. */
export async function acknowledgeBarrier(q: Queryable, id: string, pid: number | null): Promise<void> {
  await q.query("SELECT pg_notify($1, $2)", [SYNC_ACK_CHANNEL, `${id}:${pid}`]);
}
