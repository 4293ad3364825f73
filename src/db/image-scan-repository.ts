/**
 * Images' current verdicts (table image_scans). Raw SQL: the lookup path reads here (no Prisma on it), ingest
 * upserts set-based with the newest-scan-wins condition, and re-evaluation reads and rewrites up to 100,000 rows in
 * keyset batches with UNNEST; the listing shares its filters between the API and the dashboard.
 */
import type { Queryable } from "./queryable";
import type { CountedFindings } from "../domain/evaluate-compliance";
import { SEVERITIES } from "../domain/severity";
import type { FindingSummary } from "../domain/summary";
import type { Reason, Verdict } from "../domain/verdict";

/** An image_scans row as the API, the dashboard and the lookup read it. */
export interface ImageScanRow {
  image_digest: string;
  repository: string | null;
  tags: string[];
  latest_report_id: string | null;
  scanned_at: Date | null;
  is_compliant: boolean;
  status: Verdict["status"];
  reasons: Reason[];
  policy_version: number;
  evaluated_at: Date;
  valid_until: Date | null;
  critical_count: number;
  high_count: number;
  medium_count: number;
  low_count: number;
  unknown_count: number;
  fixable_count: number;
  secret_count: number;
  misconfiguration_count: number;
  first_seen_at: Date;
}

/**
 * The columns of an image_scans row as the API and the lookup answer them. Re-evaluation rewrites only the rows whose
 * verdict changed, and every policy change re-evaluates every image in the transaction that creates the version, so
 * a stored verdict also holds under every later version: the answer names the version in force and, as the time it
 * was last evaluated, the later of its own evaluation and that version's creation. (Uncorrelated subqueries: the
 * planner runs each once per statement, through the primary key of policy_versions.)
 */
const IMAGE_SCAN_COLUMNS = `image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons,
  GREATEST(policy_version, (SELECT max(version) FROM policy_versions)) AS policy_version,
  GREATEST(evaluated_at, (SELECT created_at FROM policy_versions ORDER BY version DESC LIMIT 1)) AS evaluated_at,
  valid_until, critical_count, high_count, medium_count, low_count, unknown_count,
  fixable_count, secret_count, misconfiguration_count, first_seen_at`;

export async function findImageScan(q: Queryable, digest: string): Promise<ImageScanRow | null> {
  const { rows } = await q.query<ImageScanRow>(`SELECT ${IMAGE_SCAN_COLUMNS} FROM image_scans WHERE image_digest = $1`, [digest]);
  return rows[0] ?? null;
}

export async function findImageScans(q: Queryable, digests: readonly string[]): Promise<ImageScanRow[]> {
  if (digests.length === 0) return [];
  const { rows } = await q.query<ImageScanRow>(
    `SELECT ${IMAGE_SCAN_COLUMNS} FROM image_scans WHERE image_digest = ANY($1::text[]) ORDER BY image_digest`,
    [digests],
  );
  return rows;
}

/**
 * The answer each stored image gives now, its row locked for the rest of the transaction (in digest order, as the
 * upsert takes them), so the verdict.changed written after the upsert compares with what was really replaced.
 */
export async function lockImageVerdicts(q: Queryable, digests: readonly string[]): Promise<Map<string, { isCompliant: boolean; status: Verdict["status"] }>> {
  if (digests.length === 0) return new Map();
  const { rows } = await q.query<{ image_digest: string; is_compliant: boolean; status: Verdict["status"] }>(
    `SELECT image_digest, is_compliant, status FROM image_scans WHERE image_digest = ANY($1::text[]) ORDER BY image_digest FOR UPDATE`,
    [digests],
  );
  return new Map(rows.map((r) => [r.image_digest, { isCompliant: r.is_compliant, status: r.status }]));
}

/** A new verdict for an image's current report, as ingest computes it. */
export interface ImageScanUpsert {
  imageDigest: string;
  repository: string | null;
  tags: string[];
  reportId: string;
  scannedAt: Date;
  verdict: Verdict;
  policyVersion: number;
  summary: FindingSummary;
}

/**
 * Makes the report current for each image unless the image already has a report scanned later: the newest scan
 * wins whatever the arrival order. ON CONFLICT locks the row and re-checks the WHERE against the committed
 * version, so concurrent uploads for one digest cannot leave an older scan current. Returns the digests updated.
 */
export async function upsertImageScans(q: Queryable, rows: readonly ImageScanUpsert[], now: Date): Promise<string[]> {
  if (rows.length === 0) return [];
  const payload = rows.map((r) => ({
    image_digest: r.imageDigest,
    repository: r.repository,
    tags: r.tags,
    latest_report_id: r.reportId,
    scanned_at: r.scannedAt.toISOString(),
    is_compliant: r.verdict.isCompliant,
    status: r.verdict.status,
    reasons: r.verdict.reasons,
    policy_version: r.policyVersion,
    valid_until: r.verdict.validUntil?.toISOString() ?? null,
    critical_count: r.summary.critical,
    high_count: r.summary.high,
    medium_count: r.summary.medium,
    low_count: r.summary.low,
    unknown_count: r.summary.unknown,
    fixable_count: r.summary.fixable,
    secret_count: r.summary.secrets,
    misconfiguration_count: r.summary.misconfigurations,
  }));
  const { rows: updated } = await q.query<{ image_digest: string }>(
    `INSERT INTO image_scans AS s (image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status,
       reasons, policy_version, evaluated_at, valid_until, critical_count, high_count, medium_count, low_count,
       unknown_count, fixable_count, secret_count, misconfiguration_count, first_seen_at)
     SELECT x.image_digest, x.repository, x.tags, x.latest_report_id, x.scanned_at, x.is_compliant, x.status, x.reasons,
       x.policy_version, $2, x.valid_until, x.critical_count, x.high_count, x.medium_count, x.low_count,
       x.unknown_count, x.fixable_count, x.secret_count, x.misconfiguration_count, $2
     FROM jsonb_to_recordset($1::jsonb) AS x(image_digest text, repository text, tags text[], latest_report_id uuid,
       scanned_at timestamptz, is_compliant boolean, status text, reasons jsonb, policy_version integer,
       valid_until timestamptz, critical_count integer, high_count integer, medium_count integer, low_count integer,
       unknown_count integer, fixable_count integer, secret_count integer, misconfiguration_count integer)
     ORDER BY x.image_digest
     ON CONFLICT (image_digest) DO UPDATE SET
       repository = COALESCE(EXCLUDED.repository, s.repository),
       tags = EXCLUDED.tags,
       latest_report_id = EXCLUDED.latest_report_id,
       scanned_at = EXCLUDED.scanned_at,
       is_compliant = EXCLUDED.is_compliant,
       status = EXCLUDED.status,
       reasons = EXCLUDED.reasons,
       policy_version = EXCLUDED.policy_version,
       evaluated_at = EXCLUDED.evaluated_at,
       valid_until = EXCLUDED.valid_until,
       critical_count = EXCLUDED.critical_count,
       high_count = EXCLUDED.high_count,
       medium_count = EXCLUDED.medium_count,
       low_count = EXCLUDED.low_count,
       unknown_count = EXCLUDED.unknown_count,
       fixable_count = EXCLUDED.fixable_count,
       secret_count = EXCLUDED.secret_count,
       misconfiguration_count = EXCLUDED.misconfiguration_count
     WHERE s.scanned_at IS NULL OR s.latest_report_id IS NULL OR EXCLUDED.scanned_at >= s.scanned_at
     RETURNING s.image_digest`,
    [JSON.stringify(payload), now],
  );
  return updated.map((r) => r.image_digest);
}

export interface ImageScanFilter {
  status?: string | undefined;
  repository?: string | undefined;
  /** Part of a digest (with or without sha256:), a tag, or part of a repository: typed text, not a LIKE pattern. */
  search?: string | undefined;
}

export interface ImagePage {
  items: ImageScanRow[];
  nextCursor: string | null;
}

/** The WHERE conditions of the images list (API and dashboard), with their parameters appended to `params`. */
function imageConditions(filter: ImageScanFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (filter.status) add("status = ?", filter.status);
  if (filter.repository) add("repository = ?", filter.repository);
  if (filter.search) {
    // The text as typed: % and _ are characters to find, not LIKE wildcards (backslash is LIKE's escape).
    params.push(filter.search, filter.search.replace(/[\\%_]/g, "\\$&"));
    const [text, pattern] = [`$${params.length - 1}`, `$${params.length}`];
    where.push(`(image_digest LIKE ${pattern} || '%' OR image_digest LIKE 'sha256:' || ${pattern} || '%' OR ${text} = ANY(tags) OR repository LIKE '%' || ${pattern} || '%')`);
  }
  return where;
}

/** Images ordered by digest with keyset pagination; the cursor is the last digest of the previous page. */
export async function listImageScans(q: Queryable, filter: ImageScanFilter & { limit: number; after?: string | undefined }): Promise<ImagePage> {
  const params: unknown[] = [];
  const where = imageConditions(filter, params);
  if (filter.after) {
    params.push(filter.after);
    where.push(`image_digest > $${params.length}`);
  }
  params.push(filter.limit + 1);
  const { rows } = await q.query<ImageScanRow>(
    `SELECT ${IMAGE_SCAN_COLUMNS} FROM image_scans ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY image_digest LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? items[items.length - 1]!.image_digest : null };
}

/** The columns the images list sorts by, named as the API's image fields are. */
export const IMAGE_SORTS = ["status", "critical", "high", "medium", "low", "fixable", "scanned_at", "first_seen_at", "repository"] as const;
export type ImageSortField = (typeof IMAGE_SORTS)[number];
export type SortOrder = "asc" | "desc";
export interface ImageSort {
  field: ImageSortField;
  order: SortOrder;
}

/** Riskiest first: non-compliant, stale, not scanned, compliant; then the most critical, high, medium, low findings. */
const RISK_RANK = "CASE status WHEN 'non_compliant' THEN 0 WHEN 'stale' THEN 1 WHEN 'not_scanned' THEN 2 ELSE 3 END";
const RISK_TIE = `${RISK_RANK}, critical_count DESC, high_count DESC, medium_count DESC, low_count DESC, image_digest`;
const SORT_COLUMN: Record<Exclude<ImageSortField, "status">, string> = {
  critical: "critical_count",
  high: "high_count",
  medium: "medium_count",
  low: "low_count",
  fixable: "fixable_count",
  scanned_at: "scanned_at",
  first_seen_at: "first_seen_at",
  repository: "repository",
};

/**
 * ORDER BY built from a fixed list (never from input). `status desc` is the riskiest-first order; every other sort
 * breaks ties by it, and every order ends with the digest, so rows equal in every sorted column keep one order
 * and OFFSET pages never repeat or skip one. Missing values (no repository, never scanned) sort last either way.
 */
export function imageOrderBy(sort: ImageSort): string {
  if (sort.field === "status") return sort.order === "desc" ? RISK_TIE : `${RISK_RANK} DESC, critical_count DESC, high_count DESC, medium_count DESC, low_count DESC, image_digest`;
  return `${SORT_COLUMN[sort.field]} ${sort.order === "desc" ? "DESC" : "ASC"} NULLS LAST, ${RISK_TIE}`;
}

/** The sorted list's statement without paging: what the dashboard's exports read through a cursor. */
export function imageScansSortedQuery(filter: ImageScanFilter & { sort: ImageSort }): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const where = imageConditions(filter, params);
  return {
    sql: `SELECT ${IMAGE_SCAN_COLUMNS} FROM image_scans ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${imageOrderBy(filter.sort)}`,
    params,
  };
}

/** One sorted page of images at `offset` (the dashboard's list); `more` says whether rows follow. */
export async function listImageScansSorted(
  q: Queryable,
  filter: ImageScanFilter & { sort: ImageSort; offset: number; limit: number },
): Promise<{ items: ImageScanRow[]; more: boolean }> {
  const params: unknown[] = [];
  const where = imageConditions(filter, params);
  params.push(filter.limit + 1, filter.offset);
  const { rows } = await q.query<ImageScanRow>(
    `SELECT ${IMAGE_SCAN_COLUMNS} FROM image_scans ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY ${imageOrderBy(filter.sort)} LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  const more = rows.length > filter.limit;
  return { items: more ? rows.slice(0, filter.limit) : rows, more };
}

/** The repositories of stored images, in order (the dashboard's filter). */
export async function listRepositories(q: Queryable, limit = 500): Promise<string[]> {
  const { rows } = await q.query<{ repository: string }>(
    "SELECT DISTINCT repository FROM image_scans WHERE repository IS NOT NULL ORDER BY repository LIMIT $1",
    [limit],
  );
  return rows.map((r) => r.repository);
}

/** Whether any verdict has run out by `now` (one probe of the partial valid_until index). */
export async function hasExpiredVerdicts(q: Queryable, now: Date): Promise<boolean> {
  const { rowCount } = await q.query("SELECT 1 FROM image_scans WHERE valid_until <= $1 LIMIT 1", [now]);
  return (rowCount ?? 0) > 0;
}

/** Which images a re-evaluation reads: all, a list of digests, or those whose verdict has run out (valid_until passed). */
export type ImageScanScope = { all: true } | { digests: readonly string[] } | { expiredAt: Date };

/** What re-evaluation reads of an image: its answer now and its current report's compact evaluation input. */
export interface EvaluationRow {
  image_digest: string;
  repository: string | null;
  scanned_at: Date | null;
  latest_report_id: string | null;
  is_compliant: boolean;
  status: Verdict["status"];
  valid_until: Date | null;
  /** The stored reasons are the empty list (as every compliant verdict's are). */
  no_reasons: boolean;
  evaluation_input: unknown;
}

function scopeFilter(scope: ImageScanScope, param: number): { sql: string; value?: unknown } {
  if ("digests" in scope) return { sql: `AND s.image_digest = ANY($${param}::text[])`, value: scope.digests };
  if ("expiredAt" in scope) return { sql: `AND s.valid_until IS NOT NULL AND s.valid_until <= $${param}`, value: scope.expiredAt };
  return { sql: "" };
}

/**
 * For the rest of the caller's transaction, plans without parallel workers. A batch of 5,000 rows with their
 * evaluation inputs looks expensive enough to the planner for a Gather Merge of two workers, but the workers'
 * start-up and passing every wide row through the shared-memory queue cost more than the nested loop they split:
 * EXPLAIN ANALYZE on the reevaluate bench's 100,000 images showed ~120 ms per batch parallel against ~16 ms of work
 * per process. SET LOCAL, so it ends with the transaction (re-evaluation always runs in one).
 */
export async function planWithoutParallelWorkers(q: Queryable): Promise<void> {
  await q.query("SET LOCAL max_parallel_workers_per_gather = 0");
}

/**
 * The stored input's entries the policy can count, as SQL over the report row `r`: the columns of scan_reports that
 * hold evaluation_input split by severity (generated: see the migration evaluation_input_by_severity), for the
 * severities the policy counts of vulnerabilities or misconfigurations, and the secrets when it blocks them. The
 * evaluator applies the rest of the selection (kind per severity, fixable only); the order of the entries does not
 * change a verdict. A stored value that is not an array is sent as it is, so the reader still refuses it.
 * Column names come from the fixed severity list only (never from input).
 */
function countedInputSql(counted: CountedFindings): string {
  const severities = SEVERITIES.filter((s) => counted.vulnerabilitySeverities.includes(s) || counted.misconfigurationSeverities.includes(s));
  const columns = severities.map((s) => `r.input_${s.toLowerCase()}`);
  if (counted.secrets) columns.push("r.input_secrets");
  const kept = columns.length === 0 ? "'[]'::jsonb" : columns.join(" || ");
  // The generated columns are NULL exactly when evaluation_input is not an array (or NULL): testing one of them reads a
  // small inline value, where jsonb_typeof(r.evaluation_input) would fetch and decompress the whole TOASTed input
  // (a batch of 5,000 read in 93 ms that way, 51 ms this way, on the reevaluate bench's data).
  return `CASE WHEN r.input_secrets IS NOT NULL THEN ${kept} ELSE r.evaluation_input END`;
}

/**
 * One batch of images in scope after `after` (keyset pagination over the primary key), with each one's current
 * report's evaluation input: re-evaluation never reads the findings table. With `counted`, the input holds only the
 * entries of the severities (and secrets) the policy can count (countedInputSql): under a CRITICAL/HIGH policy most
 * of an input is MEDIUM and LOW findings, which are then neither read, sent nor parsed.
 */
export function selectEvaluationBatch(q: Queryable, scope: ImageScanScope, after: string, limit: number, counted?: CountedFindings) {
  const filter = scopeFilter(scope, 3);
  const params: unknown[] = filter.value === undefined ? [after, limit] : [after, limit, filter.value];
  const input = counted ? countedInputSql(counted) : "r.evaluation_input";
  // The input is a subquery per image, not a join: joined, the planner hashed a scan of every report (history
  // included) whenever the images in scope were few against the reports stored (200 images beside 20,000 superseded
  // reports: 7.9 ms against 0.9 ms without them), so re-evaluation grew with history. Per image it is one primary-key
  // probe; an image without a report gets NULL, as the left join gave.
  return q.query<EvaluationRow>(
    `SELECT s.image_digest, s.repository, s.scanned_at, s.latest_report_id, s.is_compliant, s.status, s.valid_until,
       s.reasons = '[]'::jsonb AS no_reasons,
       (SELECT ${input} FROM scan_reports r WHERE r.id = s.latest_report_id) AS evaluation_input
     FROM image_scans s
     WHERE s.image_digest > $1 ${filter.sql}
     ORDER BY s.image_digest LIMIT $2`,
    params,
  );
}

/**
 * The reports that are the current report of more than one image in scope: only their images can share an
 * evaluation, so only their verdicts are worth remembering during a run. One aggregate over image_scans.
 */
export async function findSharedReports(q: Queryable, scope: ImageScanScope): Promise<Set<string>> {
  const filter = scopeFilter(scope, 1);
  const { rows } = await q.query<{ report_id: string }>(
    `SELECT s.latest_report_id AS report_id FROM image_scans s
     WHERE s.latest_report_id IS NOT NULL ${filter.sql}
     GROUP BY s.latest_report_id HAVING count(*) > 1`,
    filter.value === undefined ? [] : [filter.value],
  );
  return new Set(rows.map((r) => r.report_id));
}

/**
 * Writes a batch of verdicts (digest order, as selectEvaluationBatch read them) with one UPDATE (UNNEST) to the rows
 * whose verdict differs from the stored one (is_compliant, status, reasons, valid_until IS DISTINCT FROM): an
 * unchanged row is not rewritten, so it keeps its policy_version and evaluated_at (the answers name the version in
 * force, see IMAGE_SCAN_COLUMNS) and costs no dead tuple, WAL or index work. Returns the digests rewritten.
 */
export async function updateVerdictBatch(
  q: Queryable,
  batch: ReadonlyArray<{ imageDigest: string; reportId: string | null; verdict: Verdict }>,
  policyVersion: number,
  now: Date,
): Promise<string[]> {
  // The batch goes as one JSON document: JSON.stringify is native, where five parallel array parameters were
  // escaped element by element in JavaScript (pg's array literal writer: ~0.2 s of CPU per 100,000-image
  // re-evaluation in a CPU profile).
  const verdicts = batch.map((b) => ({
    image_digest: b.imageDigest,
    is_compliant: b.verdict.isCompliant,
    status: b.verdict.status,
    reasons: b.verdict.reasons,
    valid_until: b.verdict.validUntil,
    report_id: b.reportId,
  }));
  const { rows } = await q.query<{ image_digest: string }>(
    `UPDATE image_scans AS s SET
       is_compliant = u.is_compliant, status = u.status, reasons = u.reasons, policy_version = $2,
       evaluated_at = $3, valid_until = u.valid_until
     FROM jsonb_to_recordset($1::jsonb)
       AS u(image_digest text, is_compliant boolean, status text, reasons jsonb, valid_until timestamptz, report_id uuid)
     WHERE s.image_digest = u.image_digest
       -- Still the report it was evaluated from: the sweep and expired lookups run under the shared policy lock, so an
       -- upload may have made another report current since; its verdict stands, not one computed from the old report
       -- (and the hooks do not announce a flip the upload already announced).
       AND s.latest_report_id IS NOT DISTINCT FROM u.report_id
       -- The batch is one key range (it was read in digest order): bounding s by it lets the planner take the
       -- primary key instead of hashing a scan of the whole table, which grows with every batch's dead rows.
       AND s.image_digest BETWEEN $4 AND $5
       AND (s.is_compliant, s.status, s.reasons, s.valid_until) IS DISTINCT FROM (u.is_compliant, u.status, u.reasons, u.valid_until)
     RETURNING s.image_digest`,
    [JSON.stringify(verdicts), policyVersion, now, batch[0]!.imageDigest, batch[batch.length - 1]!.imageDigest],
  );
  return rows.map((r) => r.image_digest);
}
