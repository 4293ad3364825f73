import type { Queryable } from "./queryable";
import { IMAGE_SCAN_COLUMNS, type ImageScanRow } from "./image-scan-repository";

export interface ImagePage {
  items: ImageScanRow[];
  nextCursor: string | null;
}

/** Images ordered by digest with keyset pagination; the cursor is the last digest of the previous page. */
export async function listImageScans(
  q: Queryable,
  filter: { status?: string; repository?: string; search?: string; limit: number; after?: string },
): Promise<ImagePage> {
  const where: string[] = [];
  const params: unknown[] = [];
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
  if (filter.after) add("image_digest > ?", filter.after);
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

export interface FindingRow {
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
  title: string | null;
  excepted: boolean;
}

/** The findings of an image's current report (the current_findings view), with whether an exception in force covers each. */
export async function listCurrentFindings(
  q: Queryable,
  digest: string,
  filter: { severities?: string[]; kind?: string; fixable?: boolean; limit: number; afterId?: string },
): Promise<FindingRow[]> {
  const params: unknown[] = [digest];
  const where: string[] = [];
  if (filter.severities?.length) {
    params.push(filter.severities);
    where.push(`f.severity = ANY($${params.length}::text[])`);
  }
  if (filter.kind) {
    params.push(filter.kind);
    where.push(`f.kind = $${params.length}`);
  }
  if (filter.fixable !== undefined) where.push(filter.fixable ? "coalesce(f.fixed_version, '') <> ''" : "coalesce(f.fixed_version, '') = ''");
  if (filter.afterId) {
    params.push(filter.afterId);
    where.push(`f.finding_id > $${params.length}::bigint`);
  }
  params.push(filter.limit);
  const { rows } = await q.query<FindingRow>(
    `SELECT f.finding_id::text AS id, f.kind, f.vulnerability_id, f.pkg_name, f.installed_version, f.fixed_version,
       f.status, f.severity, f.target, f.class, f.pkg_type, f.purl, v.title, f.excepted
     FROM current_findings f
     LEFT JOIN vulnerabilities v ON v.id = f.vulnerability_id
     WHERE f.image_digest = $1 ${where.map((w) => `AND ${w}`).join(" ")}
     ORDER BY f.finding_id LIMIT $${params.length}`,
    params,
  );
  return rows;
}

export interface VulnerabilityWithImages {
  vulnerability: Record<string, unknown> | null;
  images: Array<{ image_digest: string; repository: string | null; tags: string[]; is_compliant: boolean; status: string; packages: string[] }>;
}

/** A vulnerability's metadata and every image whose current report has it: "where is CVE-X now?". */
export async function findVulnerabilityWithImages(q: Queryable, id: string): Promise<VulnerabilityWithImages> {
  const meta = await q.query(
    "SELECT id, title, description, severity, cvss_score::float8 AS cvss_score, published_at, last_modified_at, primary_url FROM vulnerabilities WHERE id = $1",
    [id],
  );
  const { rows } = await q.query<VulnerabilityWithImages["images"][number]>(
    `SELECT s.image_digest, s.repository, s.tags, s.is_compliant, s.status,
       array_agg(DISTINCT coalesce(f.pkg_name, f.target, '') ORDER BY coalesce(f.pkg_name, f.target, '')) AS packages
     FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id
     WHERE f.vulnerability_id = $1
     GROUP BY s.image_digest, s.repository, s.tags, s.is_compliant, s.status
     ORDER BY s.repository NULLS LAST, s.image_digest LIMIT 1000`,
    [id],
  );
  return { vulnerability: meta.rows[0] ?? null, images: rows };
}
