import type { Queryable } from "../../db/queryable";

/** Read-only queries behind the images pages that the reading API has no use case for yet. */

export async function listRepositories(q: Queryable, limit = 500): Promise<string[]> {
  const { rows } = await q.query<{ repository: string }>(
    "SELECT DISTINCT repository FROM image_scans WHERE repository IS NOT NULL ORDER BY repository LIMIT $1",
    [limit],
  );
  return rows.map((r) => r.repository);
}

export const FINDING_SORTS = ["severity", "id", "package", "fixed", "kind"] as const;
export type FindingSort = (typeof FINDING_SORTS)[number];

/** ORDER BY clauses chosen from a fixed list (never from input), each ending in the same stable tie-breaker. */
const RANK = "array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], f.severity)";
const TIE = "f.vulnerability_id, f.pkg_name NULLS LAST, f.installed_version NULLS LAST, f.target NULLS LAST";
const ORDER_BY: Record<FindingSort, string> = {
  severity: `${RANK}, ${TIE}`,
  id: TIE,
  package: `f.pkg_name NULLS LAST, ${TIE}`,
  fixed: `(f.fixed_version IS NULL OR f.fixed_version = ''), ${RANK}, ${TIE}`,
  kind: `f.kind, ${RANK}, ${TIE}`,
};

export interface FindingFilter {
  severity?: string | undefined;
  kind?: string | undefined;
  fixable?: boolean | undefined;
  sort: FindingSort;
  offset: number;
  limit: number;
}

export interface ImageFinding {
  kind: string;
  vulnerability_id: string;
  pkg_name: string | null;
  installed_version: string | null;
  fixed_version: string | null;
  status: string | null;
  severity: string;
  target: string | null;
  title: string | null;
  excepted: boolean;
}

/**
 * Findings of an image's current report from the current_findings view (which marks the excepted ones), filtered
 * and sorted for the findings table; `total` counts every match for the pager.
 */
export async function listImageFindings(q: Queryable, digest: string, filter: FindingFilter): Promise<{ rows: ImageFinding[]; total: number }> {
  const params: unknown[] = [digest];
  const where = ["f.image_digest = $1"];
  if (filter.severity) {
    params.push(filter.severity);
    where.push(`f.severity = $${params.length}`);
  }
  if (filter.kind) {
    params.push(filter.kind);
    where.push(`f.kind = $${params.length}`);
  }
  if (filter.fixable !== undefined) where.push(filter.fixable ? "coalesce(f.fixed_version, '') <> ''" : "coalesce(f.fixed_version, '') = ''");
  params.push(filter.limit, filter.offset);
  const { rows } = await q.query<ImageFinding & { total: string }>(
    `SELECT f.kind, f.vulnerability_id, f.pkg_name, f.installed_version, f.fixed_version, f.status, f.severity, f.target,
       v.title, f.excepted, count(*) OVER () AS total
     FROM current_findings f LEFT JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE ${where.join(" AND ")}
     ORDER BY ${ORDER_BY[filter.sort]}
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return { rows, total: Number(rows[0]?.total ?? 0) };
}

/** Distinct vulnerability IDs of the image's current report that no exception covers yet, most severe first. */
export async function unexceptedVulnerabilityIds(q: Queryable, digest: string, limit = 200): Promise<Array<{ id: string; severity: string }>> {
  const { rows } = await q.query<{ id: string; severity: string }>(
    `SELECT vulnerability_id AS id, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'])[min(rank)] AS severity FROM (
       SELECT vulnerability_id, severity, array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], severity) AS rank
       FROM current_findings WHERE image_digest = $1 AND NOT excepted AND coalesce(status, '') <> 'not_affected') x
     GROUP BY vulnerability_id ORDER BY min(rank), vulnerability_id LIMIT $2`,
    [digest, limit],
  );
  return rows;
}

export interface ReportHistoryRow {
  id: string;
  scanned_at: Date;
  received_at: Date;
  format: string;
  scanner: string;
  scanner_version: string | null;
  source: string | null;
  uploaded_by: string | null;
  finding_count: number;
  deleted_at: Date | null;
}

export async function listImageReports(q: Queryable, digest: string, limit = 50): Promise<ReportHistoryRow[]> {
  const { rows } = await q.query<ReportHistoryRow>(
    `SELECT r.id, r.scanned_at, r.received_at, r.format, r.scanner, r.scanner_version, r.source, r.uploaded_by, r.finding_count, r.deleted_at
     FROM scan_report_images i JOIN scan_reports r ON r.id = i.report_id WHERE i.image_digest = $1
     ORDER BY r.scanned_at DESC, r.received_at DESC LIMIT $2`,
    [digest, limit],
  );
  return rows;
}

export interface DecisionRow {
  decided_at: Date;
  image_ref: string | null;
  namespace: string | null;
  is_compliant: boolean;
  status: string;
  reason: string | null;
  policy_version: number | null;
  token_name: string | null;
}

export async function listImageDecisions(q: Queryable, digest: string, limit = 20): Promise<DecisionRow[]> {
  const { rows } = await q.query<DecisionRow>(
    `SELECT decided_at, image_ref, namespace, is_compliant, status, reason, policy_version, token_name
     FROM admission_decisions WHERE image_digest = $1 ORDER BY decided_at DESC LIMIT $2`,
    [digest, limit],
  );
  return rows;
}
