/**
 * Policy versions and exceptions (tables policy_versions, policy_exceptions). Prisma Client lists the versions (a
 * plain read outside any transaction). Raw SQL for the rest: every write runs inside the policy use cases' pg
 * transaction, under the exclusive policy lock and next to the re-evaluation, which a Prisma Client call cannot join;
 * the reads evaluation uses (active policy, exceptions in force) run in those transactions and on the lookup path;
 * the exception listing matches repository globs with repository_glob_regex, which Prisma cannot call.
 */
import type { PolicyExceptionRule, VexJustification } from "../domain/exception";
import type { FindingKind } from "../domain/severity";
import type { PrismaClient } from "../generated/prisma/client";
import { policyRulesSchema, type PolicyRules, type PolicyVersion } from "../domain/policy";
import type { Queryable } from "./queryable";

interface PolicyVersionRecord {
  version: number;
  rules: unknown;
  created_at: Date;
  created_by: string | null;
}

/** Parsed like the active policy, so a version stored before a rule existed shows that rule's default. */
function toPolicyVersion(r: PolicyVersionRecord): PolicyVersion {
  return { version: r.version, rules: policyRulesSchema.parse(r.rules), createdAt: r.created_at, createdBy: r.created_by };
}

export async function loadActivePolicy(q: Queryable): Promise<PolicyVersion> {
  const { rows } = await q.query<PolicyVersionRecord>("SELECT version, rules, created_at, created_by FROM policy_versions ORDER BY version DESC LIMIT 1");
  const row = rows[0];
  if (!row) throw new Error("no policy version: the migrations insert version 1");
  return toPolicyVersion(row);
}

/** Every version, newest first. */
export async function listPolicyVersions(prisma: PrismaClient): Promise<PolicyVersion[]> {
  const rows = await prisma.policyVersion.findMany({ orderBy: { version: "desc" } });
  return rows.map((r) => toPolicyVersion({ version: r.version, rules: r.rules, created_at: r.createdAt, created_by: r.createdBy }));
}

/** Stores `rules` as the next version (the caller holds the exclusive policy lock, so versions are consecutive). */
export async function insertPolicyVersion(q: Queryable, rules: PolicyRules, now: Date, createdBy: string | null): Promise<PolicyVersion> {
  const { rows } = await q.query<{ version: number; created_at: Date }>(
    `INSERT INTO policy_versions (version, rules, created_at, created_by)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, $2, $3 FROM policy_versions
     RETURNING version, created_at`,
    [JSON.stringify(rules), now, createdBy],
  );
  const stored = rows[0]!;
  return { version: stored.version, rules, createdAt: stored.created_at, createdBy };
}

/** Exceptions not withdrawn and not expired at `now`. */
export async function loadExceptionsInForce(q: Queryable, now: Date): Promise<PolicyExceptionRule[]> {
  const { rows } = await q.query<Pick<ExceptionRow, "id" | "vulnerability_id" | "repository" | "image_digest" | "expires_at">>(
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

export type ExceptionState = "active" | "expired" | "revoked";

/** A policy_exceptions row with its state at the time of reading: the one row type of an exception. */
export interface ExceptionRow {
  id: string;
  vulnerability_id: string;
  repository: string | null;
  image_digest: string | null;
  reason: string;
  /** The token (or dashboard sign-in) that granted it. */
  created_by: string;
  /** Who asked for it, as the granter wrote it (free text), or null. */
  requested_by: string | null;
  /** OpenVEX justification, or null when none was given. */
  justification: VexJustification | null;
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
  /** The authenticated principal's name: never taken from the request body. */
  createdBy: string;
  requestedBy?: string | null | undefined;
  justification?: VexJustification | null | undefined;
}

export interface ExceptionFilter {
  state: ExceptionState | "all";
  vulnerabilityId?: string | undefined;
  /** Exceptions whose scope covers this image: scoped to it, to its repository by glob, or everywhere. */
  imageDigest?: string | undefined;
}

const EXCEPTION_COLUMNS = (now: string) => `id, vulnerability_id, repository, image_digest, reason, created_by, requested_by, justification, created_at, expires_at,
  revoked_at, revoked_by,
  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at IS NOT NULL AND expires_at <= ${now} THEN 'expired'
       ELSE 'active' END AS state`;

/** Exceptions by state, newest first; the image filter uses the same scope predicate as the current_findings view. */
export async function listExceptions(q: Queryable, filter: ExceptionFilter, now: Date): Promise<ExceptionRow[]> {
  const { rows } = await q.query<ExceptionRow>(
    `SELECT * FROM (SELECT ${EXCEPTION_COLUMNS("$1")} FROM policy_exceptions e
       WHERE ($2::text IS NULL OR e.vulnerability_id = $2)
         AND ($3::text IS NULL OR (
           (e.image_digest IS NULL OR e.image_digest = $3)
           AND (e.repository IS NULL OR EXISTS (
             SELECT 1 FROM image_scans s WHERE s.image_digest = $3 AND s.repository ~ repository_glob_regex(e.repository)))))
     ) x
     WHERE $4::text = 'all' OR x.state = $4
     ORDER BY created_at DESC, id`,
    [now, filter.vulnerabilityId ?? null, filter.imageDigest ?? null, filter.state],
  );
  return rows;
}

/** Exceptions in force at `from` that expire by `to`, soonest first (the overview's "expiring soon"). */
export async function listExceptionsExpiringBetween(q: Queryable, from: Date, to: Date, limit = 50): Promise<ExceptionRow[]> {
  const { rows } = await q.query<ExceptionRow>(
    `SELECT ${EXCEPTION_COLUMNS("$1")} FROM policy_exceptions
     WHERE revoked_at IS NULL AND expires_at > $1 AND expires_at <= $2 ORDER BY expires_at LIMIT $3`,
    [from, to, limit],
  );
  return rows;
}

export async function insertException(q: Queryable, input: NewException, now: Date): Promise<ExceptionRow> {
  const { rows } = await q.query<ExceptionRow>(
    `INSERT INTO policy_exceptions (vulnerability_id, repository, image_digest, reason, created_by, requested_by, created_at, expires_at, justification)
     VALUES ($2, $3, $4, $5, $6, $8, $1, $7, $9) RETURNING ${EXCEPTION_COLUMNS("$1")}`,
    [now, input.vulnerabilityId, input.repository, input.imageDigest, input.reason, input.createdBy, input.expiresAt, input.requestedBy ?? null, input.justification ?? null],
  );
  return rows[0]!;
}

/** Withdraws an exception (kept for audit); withdrawing one already withdrawn changes nothing. Null when unknown. */
export async function revokeException(q: Queryable, id: string, revokedBy: string, now: Date): Promise<ExceptionRow | null> {
  const { rows } = await q.query<ExceptionRow>(
    `UPDATE policy_exceptions SET revoked_at = COALESCE(revoked_at, $1), revoked_by = COALESCE(revoked_by, $3)
     WHERE id = $2 RETURNING ${EXCEPTION_COLUMNS("$1")}`,
    [now, id, revokedBy],
  );
  return rows[0] ?? null;
}

/**
 * Images that an exception with this ID and scope can affect: those whose current report has a finding with the ID
 * (findings (vulnerability_id, report_id) index), within the scope — the same predicate as the current_findings view.
 */
export async function findImagesAffectedByException(
  q: Queryable,
  e: Pick<ExceptionRow, "vulnerability_id" | "image_digest" | "repository">,
): Promise<string[]> {
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
 * The kinds (vulnerability, secret, misconfiguration) these IDs have among the findings of the current reports of one
 * image or of every image of one repository (findings (vulnerability_id, report_id) index): which section of a
 * `.trivyignore.yaml` an exception's ID belongs in.
 */
export async function findFindingKinds(
  q: Queryable,
  ids: readonly string[],
  scope: { imageDigest: string } | { repository: string },
): Promise<Map<string, Set<FindingKind>>> {
  const kinds = new Map<string, Set<FindingKind>>();
  if (ids.length === 0) return kinds;
  const [column, value] = "imageDigest" in scope ? ["image_digest", scope.imageDigest] : ["repository", scope.repository];
  const { rows } = await q.query<{ vulnerability_id: string; kind: FindingKind }>(
    `SELECT DISTINCT f.vulnerability_id, f.kind FROM image_scans s JOIN findings f ON f.report_id = s.latest_report_id
     WHERE s.${column} = $1 AND f.vulnerability_id = ANY($2::text[])`,
    [value, [...new Set(ids)]],
  );
  for (const r of rows) {
    let set = kinds.get(r.vulnerability_id);
    if (!set) kinds.set(r.vulnerability_id, (set = new Set()));
    set.add(r.kind);
  }
  return kinds;
}
