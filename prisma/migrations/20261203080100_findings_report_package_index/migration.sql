-- Issue 16 item 6: "images carrying a package, by version" (docs/sql.md) asks for one package in the images' current
-- reports. Through findings_report_id_idx it read every finding of every current report and kept those of the
-- package; this index finds a report's findings of one package directly (one probe per current report, reading only
-- that package's rows), so its cost follows the package's findings, not the size of the reports or of the history.
CREATE INDEX findings_report_id_pkg_name_idx ON findings (report_id, pkg_name);
COMMENT ON INDEX findings_report_id_pkg_name_idx IS 'Findings by report and package: one package''s findings in the current reports (docs/sql.md "images carrying a package, by version").';
