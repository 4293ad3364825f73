import type { Queryable } from "../db/queryable";
import type { PolicyExceptionRule } from "../domain/exception";
import { policyRulesSchema, type PolicyVersion } from "../domain/policy";

export async function loadActivePolicy(q: Queryable): Promise<PolicyVersion> {
  const { rows } = await q.query<{ version: number; rules: unknown; created_at: Date; created_by: string | null }>(
    "SELECT version, rules, created_at, created_by FROM policy_versions ORDER BY version DESC LIMIT 1",
  );
  const row = rows[0];
  if (!row) throw new Error("no policy version: the migrations insert version 1");
  return { version: row.version, rules: policyRulesSchema.parse(row.rules), createdAt: row.created_at, createdBy: row.created_by };
}

/** Exceptions not withdrawn and not expired at `now`. */
export async function loadExceptionsInForce(q: Queryable, now: Date): Promise<PolicyExceptionRule[]> {
  const { rows } = await q.query<{
    id: string;
    vulnerability_id: string;
    repository: string | null;
    image_digest: string | null;
    expires_at: Date | null;
  }>(
    `SELECT id, vulnerability_id, repository, image_digest, expires_at FROM policy_exceptions
     WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)`,
    [now],
  );
  return rows.map((r) => ({
    id: r.id,
    vulnerabilityId: r.vulnerability_id,
    repository: r.repository,
    imageDigest: r.image_digest,
    expiresAt: r.expires_at,
  }));
}
