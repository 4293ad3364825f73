import { anyRuleFor, insertVerdictChangedEvents } from "../db/notification-outbox-repository";
import type { VerdictChangeCause } from "../domain/notification";
import type { StoredVerdictBatch, VerdictCause } from "../policy/transaction-hooks";

/** The notification's cause for each reason verdicts are stored (expiry becomes scan_age for a scan that aged). */
const CAUSE: Record<VerdictCause, VerdictChangeCause> = {
  ingest: "report",
  policy: "policy",
  reevaluate: "policy",
  exception: "exception",
  expiry: "expiry",
};

/**
 * The transaction hook that writes verdict.changed (registered in src/server.ts): for each batch of verdicts a use
 * case stores, the images whose is_compliant flipped get an event, in the storing transaction — one
 * INSERT … SELECT FROM unnest per batch, and nothing at all (one EXISTS probe) when no rule subscribes. All events of
 * one transaction share its change_id, so a policy change is delivered as one message per destination.
 */
export async function recordVerdictChanges(batch: StoredVerdictBatch): Promise<void> {
  const flipped = batch.images.filter((i) => i.before !== null && i.before.isCompliant !== i.verdict.isCompliant);
  if (flipped.length === 0 || !(await anyRuleFor(batch.tx, "verdict.changed"))) return;
  await insertVerdictChangedEvents(
    batch.tx,
    flipped.map((i) => ({ imageDigest: i.imageDigest, isCompliant: i.before!.isCompliant, status: i.before!.status })),
    { cause: CAUSE[batch.cause], now: batch.now },
  );
}
