import type { Queryable } from "./queryable";
import type { FindingSummary } from "../domain/summary";
import type { Reason, Verdict } from "../domain/verdict";

/** An image_scans row as the API and the lookup read it. */
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

export const IMAGE_SCAN_COLUMNS = `image_digest, repository, tags, latest_report_id, scanned_at, is_compliant, status, reasons,
  policy_version, evaluated_at, valid_until, critical_count, high_count, medium_count, low_count, unknown_count,
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
