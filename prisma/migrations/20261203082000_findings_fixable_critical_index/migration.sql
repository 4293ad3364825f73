-- Issue 16 item 6: "fixable critical vulnerabilities per repository" (docs/sql.md) probed findings_report_id_idx
-- for each current report and read all its findings (heap pages included) to keep the CRITICAL ones with a fix, a
-- tenth of them: 1.58x the no-history time in scale_20m, as the bigger report_id index and table of a long history
-- make those reads cost more. This index holds only the findings the question asks about, by report.
CREATE INDEX findings_fixable_critical_report_id_idx ON findings (report_id)
  WHERE kind = 'vulnerability' AND severity = 'CRITICAL' AND fixed_version IS NOT NULL;
COMMENT ON INDEX findings_fixable_critical_report_id_idx IS 'CRITICAL vulnerability findings with a fixed version, by report: the fixable criticals of the current reports (docs/sql.md "fixable critical vulnerabilities per repository").';
