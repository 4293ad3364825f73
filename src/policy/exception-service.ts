import { notifyPolicyChanged } from "../db/change-channels";
import {
  findImagesAffectedByException,
  insertException,
  listExceptions,
  revokeException,
  type ExceptionFilter,
  type ExceptionRow,
  type NewException,
} from "../db/policy-repository";
import { inTransaction, lockPolicyExclusively } from "../db/queryable";
import { invalid, notFound } from "../domain/errors";
import { reevaluateCounting, type PolicyUseCaseDependencies, type ReevaluationOutcome } from "./policy-service";
import { propagatePolicyChange } from "./propagate-change";
import { NO_HOOKS, type TransactionHooks } from "./transaction-hooks";

export type { ExceptionFilter, ExceptionRow, ExceptionState, NewException } from "../db/policy-repository";

/**
 * Exceptions: granting and withdrawing one re-evaluates the images it can affect in the same transaction, under the
 * exclusive policy lock, and drops every replica's cached verdicts before returning, so the answer that the API or
 * the dashboard shows is already in force for every lookup. A refused or failed change propagates nothing.
 */
export class ExceptionService {
  private readonly pool: PolicyUseCaseDependencies["pool"];
  private readonly clock: () => Date;
  private readonly hooks: TransactionHooks;

  constructor(private readonly deps: PolicyUseCaseDependencies) {
    this.pool = deps.pool;
    this.clock = deps.clock;
    this.hooks = deps.transactionHooks ?? NO_HOOKS;
  }

  list(filter: ExceptionFilter): Promise<ExceptionRow[]> {
    return listExceptions(this.pool, filter, this.clock());
  }

  async create(input: NewException): Promise<ExceptionRow & ReevaluationOutcome> {
    const { rows, ...outcome } = await this.createAll([input]);
    return { ...rows[0]!, ...outcome };
  }

  /**
   * Grants several exceptions in one transaction (the dashboard's form grants one per chosen vulnerability ID): all
   * are stored or none, and the images any of them can affect are re-evaluated once.
   */
  async createAll(inputs: readonly NewException[]): Promise<{ rows: ExceptionRow[] } & ReevaluationOutcome> {
    const now = this.clock();
    for (const input of inputs)
      if (input.expiresAt !== null && input.expiresAt.getTime() <= now.getTime())
        throw invalid("invalid_request", "The request body is invalid.", [
          { path: "expires_at", message: `must be in the future (now is ${now.toISOString()})` },
        ]);
    const result = await inTransaction(this.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const rows: ExceptionRow[] = [];
      const digests = new Set<string>();
      for (const input of inputs) {
        const row = await insertException(tx, input, now);
        rows.push(row);
        for (const digest of await findImagesAffectedByException(tx, row)) digests.add(digest);
      }
      const outcome = await reevaluateCounting(tx, { digests: [...digests] }, now, { hooks: this.hooks, cause: "exception" });
      await this.hooks.policyChanged(tx, { kind: "exceptions_granted", exceptionIds: rows.map((r) => r.id) }, now);
      await notifyPolicyChanged(tx, `exception:${rows.map((r) => r.id).join(",")}`);
      return { rows, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }

  /** Withdraws an exception; the row is kept for audit. Withdrawing one already withdrawn changes nothing. */
  async revoke(id: string, revokedBy: string): Promise<ExceptionRow & ReevaluationOutcome> {
    const result = await inTransaction(this.pool, async (tx) => {
      await lockPolicyExclusively(tx);
      const now = this.clock();
      const row = await revokeException(tx, id, revokedBy, now);
      if (!row) throw notFound("exception_not_found", `No exception ${id}.`);
      const outcome = await reevaluateCounting(tx, { digests: await findImagesAffectedByException(tx, row) }, now, { hooks: this.hooks, cause: "exception" });
      await this.hooks.policyChanged(tx, { kind: "exception_revoked", exceptionId: row.id }, now);
      await notifyPolicyChanged(tx, `exception:${row.id}`);
      return { ...row, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }
}
