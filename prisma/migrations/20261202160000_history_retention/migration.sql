-- History retention (issue 16, RETENTION_SUPERSEDED_DAYS): the findings and raw copy of a report that is no longer any
-- image's current report, and was received before the retention period, are deleted in small batches; the report row
-- (its counts, images and evaluation input) stays as history, marked pruned.
ALTER TABLE scan_reports ADD COLUMN pruned_at timestamptz;
COMMENT ON COLUMN scan_reports.pruned_at IS 'When history retention (RETENTION_SUPERSEDED_DAYS, scan-registry prune) deleted this report''s findings and raw copy; NULL while they are kept. The row, its counts (finding_count, evaluation_input) and its images stay as history. A pruned report uploaded again (same bytes) gets its findings and copy back and is NULL again.';

-- The retention run looks for reports still holding findings, oldest receipt first: this index holds only those, so
-- a run's search does not grow with the history already pruned.
CREATE INDEX scan_reports_unpruned_received_idx ON scan_reports (received_at) WHERE pruned_at IS NULL;
COMMENT ON INDEX scan_reports_unpruned_received_idx IS 'Reports whose findings are kept (pruned_at IS NULL), by receipt: the retention run''s search.';
COMMENT ON COLUMN scan_reports.finding_count IS 'Number of findings the report holds (kept after history retention pruned its findings rows).';
