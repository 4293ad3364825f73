-- Issue 17 item 6: the stored copy of a report no longer shows the text around secrets (Trivy's Secrets[].Match and
-- Code.Lines, the Trivy Operator's match, SARIF's "Match:" line) to compliance:read tokens and scan_analyst.
-- New uploads are stored masked (src/formats/mask-secrets.ts); copies stored before are masked once at the next
-- start (the rows with secrets_masked NULL).
ALTER TABLE scan_report_raw ADD COLUMN secrets_masked boolean;
COMMENT ON COLUMN scan_report_raw.secrets_masked IS 'true: the report had secret findings and their context (matched line, surrounding code lines) is masked in this copy; false: nothing needed masking, the copy is the uploaded bytes; NULL: stored before masking existed, masked at the next start.';
COMMENT ON TABLE scan_report_raw IS 'A copy of each report, gzip-compressed, served by GET /v1/reports/{id}/raw: the uploaded bytes, or, for a report with secret findings, its JSON with the secrets'' context masked (secrets_masked).';
COMMENT ON COLUMN scan_report_raw.byte_size IS 'Size of the stored copy in bytes, uncompressed (the uploaded size unless secrets were masked).';
COMMENT ON COLUMN scan_report_raw.gzip_bytes IS 'The stored copy, gzip-compressed: the uploaded bytes, or the JSON with secret context masked.';
COMMENT ON COLUMN scan_reports.report_sha256 IS 'SHA-256 of the uploaded bytes (after gzip decoding), also when the stored copy is masked: the same bytes uploaded twice are one report.';
-- The start-up check for copies still to mask reads only these rows (none, once done).
CREATE INDEX scan_report_raw_unmasked_idx ON scan_report_raw (report_id) WHERE secrets_masked IS NULL;
