/**
 * Repositories with their images (the dashboard's /ui/repositories): image_scans grouped by repository, with
 * verdict counts, and for each repository its newest digests with their tags and verdicts. Read-only; one
 * statement per page over the (repository, image_digest) index. Raw SQL: grouped counts, FILTER and a lateral
 * json_agg are SQL that Prisma Client does not express.
 */
import type { Queryable } from "./queryable";
import type { Verdict } from "../domain/verdict";

export const REPOSITORY_SORTS = ["non_compliant", "images", "last_scanned_at", "repository"] as const;
export type RepositorySortField = (typeof REPOSITORY_SORTS)[number];

export interface RepositoryDigest {
  image_digest: string;
  tags: string[];
  status: Verdict["status"];
  scanned_at: string | null;
  critical_count: number;
  high_count: number;
  medium_count: number;
  low_count: number;
  unknown_count: number;
}

export interface RepositoryRow {
  repository: string;
  images: number;
  compliant: number;
  non_compliant: number;
  stale: number;
  not_scanned: number;
  /** Distinct tags across its images. */
  tags: number;
  last_scanned_at: Date | null;
  /** Its newest digests (by scan time, unscanned last), up to the page's `digests` per repository. */
  digests: RepositoryDigest[];
}

const ORDER_BY: Record<RepositorySortField, (dir: "ASC" | "DESC") => string> = {
  non_compliant: (d) => `non_compliant ${d}, images DESC, repository ASC`,
  images: (d) => `images ${d}, non_compliant DESC, repository ASC`,
  last_scanned_at: (d) => `last_scanned_at ${d} NULLS LAST, non_compliant DESC, images DESC, repository ASC`,
  repository: (d) => `repository ${d}`,
};

/**
 * One page of repositories at `offset`, most non-compliant images first by default; ties fall back to most images
 * and the name (unique), so OFFSET pages never repeat or skip one. Images without a repository are left out.
 */
export async function listRepositoriesWithImages(
  q: Queryable,
  o: { search?: string | undefined; sort: { field: RepositorySortField; order: "asc" | "desc" }; offset: number; limit: number; digests: number },
): Promise<{ items: RepositoryRow[]; more: boolean }> {
  const params: unknown[] = [];
  const where = ["repository IS NOT NULL"];
  if (o.search) {
    params.push(`%${o.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`repository ILIKE $${params.length}`);
  }
  params.push(o.digests, o.limit + 1, o.offset);
  const n = params.length;
  const { rows } = await q.query<RepositoryRow>(
    `WITH repos AS (
       SELECT repository, count(*)::int AS images,
         count(*) FILTER (WHERE status = 'compliant')::int AS compliant,
         count(*) FILTER (WHERE status = 'non_compliant')::int AS non_compliant,
         count(*) FILTER (WHERE status = 'stale')::int AS stale,
         count(*) FILTER (WHERE status = 'not_scanned')::int AS not_scanned,
         max(scanned_at) AS last_scanned_at
       FROM image_scans WHERE ${where.join(" AND ")} GROUP BY repository
       ORDER BY ${ORDER_BY[o.sort.field](o.sort.order === "asc" ? "ASC" : "DESC")}
       LIMIT $${n - 1} OFFSET $${n}
     )
     SELECT r.*,
       (SELECT count(DISTINCT t)::int FROM image_scans s CROSS JOIN LATERAL unnest(s.tags) AS t WHERE s.repository = r.repository) AS tags,
       (SELECT coalesce(json_agg(d ORDER BY d.scanned_at DESC NULLS LAST, d.image_digest), '[]'::json) FROM (
          SELECT image_digest, tags, status, scanned_at, critical_count, high_count, medium_count, low_count, unknown_count
          FROM image_scans s WHERE s.repository = r.repository
          ORDER BY scanned_at DESC NULLS LAST, image_digest LIMIT $${n - 2}) d) AS digests
     FROM repos r
     ORDER BY ${ORDER_BY[o.sort.field](o.sort.order === "asc" ? "ASC" : "DESC")}`,
    params,
  );
  const more = rows.length > o.limit;
  return { items: more ? rows.slice(0, o.limit) : rows, more };
}
