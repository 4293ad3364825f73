import type { Pool } from "pg";
import { insertExceptionExpiringEvents } from "../db/notification-outbox-repository";
import { inTransaction } from "../db/queryable";

/**
 * exception.expiring: every exception in force that expires within `days` is announced once — marked and its event
 * written in one transaction, so a crash cannot mark without writing or write twice, and two replicas sweeping at
 * once announce it once (the second waits on the row and finds it marked).
 */
export async function announceExpiringExceptions(pool: Pool, now: Date, days: number): Promise<{ exceptions: number; jobs: number }> {
  if (days <= 0) return { exceptions: 0, jobs: 0 };
  return inTransaction(pool, (tx) => insertExceptionExpiringEvents(tx, { now, days }));
}
