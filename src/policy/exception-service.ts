import { inTransaction, lockPolicyExclusively, type Queryable } from "../db/queryable";
import { invalid, notFound } from "../domain/errors";
import { notifyPolicyChanged, reevaluateCounting, type PolicyUseCaseDependencies, type ReevaluationOutcome } from "./policy-service";
import { propagatePolicyChange } from "./propagate-change";
import { NO_HOOKS, type TransactionHooks } from "./transaction-hooks";

export type ExceptionState = "active" | "expired" | "revoked";

/** A policy_exceptions row as the API shows it, with its state at the time of reading. */
export interface ExceptionRow {
  id: string;
  vulnerability_id: string;
  repository: string | null;
  image_digest: string | null;
  reason: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  state: ExceptionState;
}

export interface NewException {
  vulnerabilityId: string;
  repository: string | null;
  imageDigest: string | null;
  reason: string;
  expiresAt: Date | null;
  createdBy: string;
}

export interface ExceptionFilter {
  state: ExceptionState | "all";
  vulnerabilityId?: string | undefined;
  /** Exceptions whose scope covers this image: scoped to it, to its repository by glob, or everywhere. */
  imageDigest?: string | undefined;
}

const COLUMNS = (now: string) => `id, vulnerability_id, repository, image_digest, reason, created_by, created_at, expires_at,
  revoked_at, revoked_by,
  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at IS NOT NULL AND expires_at <= ${now} THEN 'expired'
       ELSE 'active' END AS state`;

/**
 * Images that an exception with this ID and scope can affect: those whose current report has a finding with the ID
 * (findings (vulnerability_id, report_id) index), within the scope — the same predicate as the current_findings view.
 */
async function affectedImages(q: Queryable, e: Pick<ExceptionRow, "vulnerability_id" | "image_digest" | "repository">): Promise<string[]> {
  const { rows } = await q.query<{ image_digest: string }>(
    `SELECT DISTINCT s.image_digest FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id
     WHERE f.vulnerability_id = $1
       AND ($2::text IS NULL OR s.image_digest = $2)
       AND ($3::text IS NULL OR s.repository ~ repository_glob_regex($3))`,
    [e.vulnerability_id, e.image_digest, e.repository],
  );
  return rows.map((r) => r.image_digest);
}

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

  async list(filter: ExceptionFilter): Promise<ExceptionRow[]> {
    const { rows } = await this.pool.query<ExceptionRow>(
      `SELECT * FROM (SELECT ${COLUMNS("$1")} FROM policy_exceptions e
         WHERE ($2::text IS NULL OR e.vulnerability_id = $2)
           AND ($3::text IS NULL OR (
             (e.image_digest IS NULL OR e.image_digest = $3)
             AND (e.repository IS NULL OR EXISTS (
               SELECT 1 FROM image_scans s WHERE s.image_digest = $3 AND s.repository ~ repository_glob_regex(e.repository)))))
       ) x
       WHERE $4::text = 'all' OR x.state = $4
       ORDER BY created_at DESC, id`,
      [this.clock(), filter.vulnerabilityId ?? null, filter.imageDigest ?? null, filter.state],
    );
    return rows;
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
        const inserted = await tx.query<ExceptionRow>(
          `INSERT INTO policy_exceptions (vulnerability_id, repository, image_digest, reason, created_by, created_at, expires_at)
           VALUES ($2, $3, $4, $5, $6, $1, $7) RETURNING ${COLUMNS("$1")}`,
          [now, input.vulnerabilityId, input.repository, input.imageDigest, input.reason, input.createdBy, input.expiresAt],
        );
        const row = inserted.rows[0]!;
        rows.push(row);
        for (const digest of await affectedImages(tx, row)) digests.add(digest);
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
      const { rows } = await tx.query<ExceptionRow>(
        `UPDATE policy_exceptions SET revoked_at = COALESCE(revoked_at, $1), revoked_by = COALESCE(revoked_by, $3)
         WHERE id = $2 RETURNING ${COLUMNS("$1")}`,
        [now, id, revokedBy],
      );
      const row = rows[0];
      if (!row) throw notFound("exception_not_found", `No exception ${id}.`);
      const outcome = await reevaluateCounting(tx, { digests: await affectedImages(tx, row) }, now, { hooks: this.hooks, cause: "exception" });
      await this.hooks.policyChanged(tx, { kind: "exception_revoked", exceptionId: row.id }, now);
      await notifyPolicyChanged(tx, `exception:${row.id}`);
      return { ...row, ...outcome };
    });
    await propagatePolicyChange(this.deps);
    return result;
  }
}
