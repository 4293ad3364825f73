-- Indexes for the analysts' and the API's common questions (issue 6). Each replaces a single-column index that is
-- its prefix, so no write pays for two.
--
-- "Which images have CVE-X now?": findings by vulnerability ID, with the report ID in the index so the join to
-- image_scans.latest_report_id reads no heap rows of findings to find the candidate reports.
CREATE INDEX findings_vulnerability_id_report_id_idx ON findings (vulnerability_id, report_id);
DROP INDEX findings_vulnerability_id_idx;

-- Images by status and by repository, in digest order: GET /v1/images?status=…|repository=… pages by digest
-- (ORDER BY image_digest, keyset cursor), so the index serves the filter, the order and the cursor together.
CREATE INDEX image_scans_status_digest_idx ON image_scans (status, image_digest);
DROP INDEX image_scans_status_idx;
CREATE INDEX image_scans_repository_digest_idx ON image_scans (repository, image_digest);
DROP INDEX image_scans_repository_idx;
