/**
 * The findings of images' current reports (the current_findings view, which marks the findings an exception in
 * force covers): the read model the API (cursor pages) and the dashboard (sorted, offset pages with a total) share,
 * with one filter and one row type. Raw SQL: the view, the severity ranking and the window count are SQL that
 * Prisma Client does not express.
 */
import type { Queryable } from "./queryable";

/** A finding of an image's current report, as the API and the dashboard list it. */
export interface FindingRow {
  /** finding_id as text: the API's cursor. */
  id: string;
  kind: string;
  vulnerability_id: string;
  pkg_name: string | null;
  installed_version: string | null;
  fixed_version: string | null;
  status: string | null;
  severity: string;
  target: string | null;
  class: string | null;
  pkg_type: string | null;
  purl: string | null;
  /** The vulnerability's title, when its metadata is stored. */
  title: string | null;
  /** Whether an exception in force covers it. */
  excepted: boolean;
}

export interface FindingFilter {
  severities?: readonly string[] | undefined;
  kind?: string | undefined;
  fixable?: boolean | undefined;
}

const FINDING_COLUMNS = `f.finding_id::text AS id, f.kind, f.vulnerability_id, f.pkg_name, f.installed_version, f.fixed_version,
  f.status, f.severity, f.target, f.class, f.pkg_type, f.purl, v.title, f.excepted`;

/** WHERE conditions of a filter for one image; parameters are appended to `params` (which starts with the digest). */
function findingConditions(filter: FindingFilter, params: unknown[]): string[] {
  const where = ["f.image_digest = $1"];
  if (filter.severities?.length) {
    params.push(filter.severities);
    where.push(`f.severity = ANY($${params.length}::text[])`);
  }
  if (filter.kind) {
    params.push(filter.kind);
    where.push(`f.kind = $${params.length}`);
  }
  if (filter.fixable !== undefined) where.push(filter.fixable ? "coalesce(f.fixed_version, '') <> ''" : "coalesce(f.fixed_version, '') = ''");
  return where;
}

/**
 * One page of the image's current findings in finding_id order, after the cursor `afterId` (the API's paging). One
 * row more is read, so the last page gives no cursor.
 */
export async function listCurrentFindings(
  q: Queryable,
  digest: string,
  filter: FindingFilter & { limit: number; afterId?: string | undefined },
): Promise<{ items: FindingRow[]; nextCursor: string | null }> {
  const params: unknown[] = [digest];
  const where = findingConditions(filter, params);
  if (filter.afterId) {
    params.push(filter.afterId);
    where.push(`f.finding_id > $${params.length}::bigint`);
  }
  params.push(filter.limit + 1);
  const { rows } = await q.query<FindingRow>(
    `SELECT ${FINDING_COLUMNS}
     FROM current_findings f LEFT JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE ${where.join(" AND ")}
     ORDER BY f.finding_id LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? items[items.length - 1]!.id : null };
}

export const FINDING_SORTS = ["severity", "id", "package", "fixed", "kind"] as const;
export type FindingSort = (typeof FINDING_SORTS)[number];

/**
 * ORDER BY clauses chosen from a fixed list (never from input), each ending in the same stable tie-breaker: the
 * finding ID last, so that rows equal in every sorted column keep one order and OFFSET pages never repeat or skip one.
 */
const RANK = "array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], f.severity)";
const TIE = "f.vulnerability_id, f.pkg_name NULLS LAST, f.installed_version NULLS LAST, f.target NULLS LAST, f.finding_id";
const ORDER_BY: Record<FindingSort, string> = {
  severity: `${RANK}, ${TIE}`,
  id: TIE,
  package: `f.pkg_name NULLS LAST, ${TIE}`,
  fixed: `(f.fixed_version IS NULL OR f.fixed_version = ''), ${RANK}, ${TIE}`,
  kind: `f.kind, ${RANK}, ${TIE}`,
};

/** A finding as the dashboard's table shows it: with the vulnerability's CVSS score (the API's rows leave it out). */
export interface FindingPageRow extends FindingRow {
  cvss_score: number | null;
}

/**
 * One sorted page of the image's current findings at `offset` (the dashboard's findings table); `total` counts
 * every match for the pager.
 */
export async function listCurrentFindingsPage(
  q: Queryable,
  digest: string,
  filter: FindingFilter & { sort: FindingSort; offset: number; limit: number },
): Promise<{ rows: FindingPageRow[]; total: number }> {
  const params: unknown[] = [digest];
  const where = findingConditions(filter, params);
  params.push(filter.limit, filter.offset);
  const { rows } = await q.query<FindingPageRow & { total: string }>(
    `SELECT ${FINDING_COLUMNS}, v.cvss_score::float8 AS cvss_score, count(*) OVER () AS total
     FROM current_findings f LEFT JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE ${where.join(" AND ")}
     ORDER BY ${ORDER_BY[filter.sort]}
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  const total = Number(rows[0]?.total ?? 0);
  return { rows: rows.map(({ total: _total, ...row }) => row), total };
}

/** The sorted findings statement without paging or total: what the dashboard's findings export reads through a cursor. */
export function currentFindingsSortedQuery(digest: string, filter: FindingFilter & { sort: FindingSort }): { sql: string; params: unknown[] } {
  const params: unknown[] = [digest];
  const where = findingConditions(filter, params);
  return {
    sql: `SELECT ${FINDING_COLUMNS}, v.cvss_score::float8 AS cvss_score
     FROM current_findings f LEFT JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE ${where.join(" AND ")} ORDER BY ${ORDER_BY[filter.sort]}`,
    params,
  };
}

/** Distinct vulnerability IDs of the image's current report that no exception covers yet, most severe first. */
export async function listUnexceptedVulnerabilityIds(q: Queryable, digest: string, limit = 200): Promise<Array<{ id: string; severity: string }>> {
  const { rows } = await q.query<{ id: string; severity: string }>(
    `SELECT vulnerability_id AS id, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'])[min(rank)] AS severity FROM (
       SELECT vulnerability_id, severity, array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], severity) AS rank
       FROM current_findings WHERE image_digest = $1 AND NOT excepted AND coalesce(status, '') <> 'not_affected') x
     GROUP BY vulnerability_id ORDER BY min(rank), vulnerability_id LIMIT $2`,
    [digest, limit],
  );
  return rows;
}
