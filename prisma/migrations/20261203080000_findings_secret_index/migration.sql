-- Issue 16 item 6: "secrets found per repository" (docs/sql.md) reads only the secrets of images' current reports.
-- Through findings_report_id_idx it read every finding of every current report to keep the few secrets, and with a
-- long history the planner preferred reading findings whole; secrets are a small share of findings, so this index
-- holds only them, by report: one probe per current report, whatever the history and the vulnerabilities.
CREATE INDEX findings_secret_report_id_idx ON findings (report_id) WHERE kind = 'secret';
COMMENT ON INDEX findings_secret_report_id_idx IS 'Secret findings by report (kind = ''secret''): secrets of the current reports (docs/sql.md "secrets found per repository") and the secret-masking check, without reading vulnerability findings.';
