/**
 * The overview's counts across aggregates (image_scans with admission_decisions): read-only, each one set-based
 * statement over indexed columns. Raw SQL: grouped counts, FILTER and generate_series are SQL that Prisma Client
 * does not express.
 */
import type { Queryable } from "./queryable";

export interface StatusCounts {
  compliant: number;
  non_compliant: number;
  stale: number;
  not_scanned: number;
  /** Images asked about at admission in the window that have no report at all. */
  not_scanned_asked: number;
  total: number;
}

export async function countImagesByStatus(q: Queryable, since: Date): Promise<StatusCounts> {
  const { rows } = await q.query<{ status: string; n: string }>("SELECT status, count(*) AS n FROM image_scans GROUP BY status");
  const counts: StatusCounts = { compliant: 0, non_compliant: 0, stale: 0, not_scanned: 0, not_scanned_asked: 0, total: 0 };
  for (const r of rows) {
    if (r.status in counts) counts[r.status as keyof StatusCounts] = Number(r.n);
    counts.total += Number(r.n);
  }
  const asked = await q.query<{ n: string }>(
    `SELECT count(DISTINCT coalesce(d.image_digest, d.image_ref)) AS n FROM admission_decisions d
     WHERE d.decided_at >= $1 AND d.status = 'not_scanned'
       AND (d.image_digest IS NULL OR NOT EXISTS (SELECT 1 FROM image_scans s WHERE s.image_digest = d.image_digest))`,
    [since],
  );
  counts.not_scanned_asked = Number(asked.rows[0]?.n ?? 0);
  return counts;
}

export interface SeverityTotals {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
  secrets: number;
  misconfigurations: number;
}

/** Findings in every image's current report, by severity (the counts image_scans keeps per image). */
export async function sumFindingsBySeverity(q: Queryable): Promise<SeverityTotals> {
  const { rows } = await q.query<Record<keyof SeverityTotals, string | null>>(
    `SELECT sum(critical_count) AS critical, sum(high_count) AS high, sum(medium_count) AS medium, sum(low_count) AS low,
       sum(unknown_count) AS unknown, sum(secret_count) AS secrets, sum(misconfiguration_count) AS misconfigurations
     FROM image_scans`,
  );
  const r = rows[0]!;
  return {
    critical: Number(r.critical ?? 0),
    high: Number(r.high ?? 0),
    medium: Number(r.medium ?? 0),
    low: Number(r.low ?? 0),
    unknown: Number(r.unknown ?? 0),
    secrets: Number(r.secrets ?? 0),
    misconfigurations: Number(r.misconfigurations ?? 0),
  };
}

export interface RepositoryCount {
  repository: string | null;
  non_compliant: number;
  total: number;
}

export async function nonCompliantByRepository(q: Queryable, limit: number): Promise<RepositoryCount[]> {
  const { rows } = await q.query<{ repository: string | null; non_compliant: string; total: string }>(
    `SELECT repository, count(*) FILTER (WHERE NOT is_compliant) AS non_compliant, count(*) AS total
     FROM image_scans GROUP BY repository
     HAVING count(*) FILTER (WHERE NOT is_compliant) > 0
     ORDER BY 2 DESC, repository NULLS LAST LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ repository: r.repository, non_compliant: Number(r.non_compliant), total: Number(r.total) }));
}

/** Allowed and denied admission answers per UTC day, every day of the window present (zero when quiet). */
export async function decisionsPerDay(q: Queryable, now: Date, days: number): Promise<Array<{ day: string; allowed: number; denied: number }>> {
  const { rows } = await q.query<{ day: string; allowed: string; denied: string }>(
    `WITH days AS (
       SELECT generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') - make_interval(days => $2 - 1),
                              date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC'), interval '1 day') AS day)
     SELECT to_char(days.day, 'YYYY-MM-DD') AS day,
       count(d.id) FILTER (WHERE d.is_compliant) AS allowed,
       count(d.id) FILTER (WHERE NOT d.is_compliant) AS denied
     FROM days LEFT JOIN admission_decisions d
       ON d.decided_at >= days.day AT TIME ZONE 'UTC' AND d.decided_at < (days.day + interval '1 day') AT TIME ZONE 'UTC'
     GROUP BY days.day ORDER BY days.day`,
    [now, days],
  );
  return rows.map((r) => ({ day: r.day, allowed: Number(r.allowed), denied: Number(r.denied) }));
}
