-- History rollups (issue 16 item 6): the two analyst queries that count history by definition (vulnerability findings
-- by severity per week, reports per source and scanner version) read per-UTC-day aggregates of closed days instead of
-- every finding of every report. One replica writes them (the daily snapshot loop, src/reading/history-rollups.ts),
-- a batch of days per short transaction, and moves the watermark in the same transaction; uploads never touch them.
-- The views add a live aggregate of the reports received after the watermark, so they are exact at every moment.

CREATE TABLE history_rollup_state (
  id                boolean     PRIMARY KEY DEFAULT true CHECK (id),
  rolled_up_through date,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO history_rollup_state (id) VALUES (true);
COMMENT ON TABLE history_rollup_state IS 'The rollups'' watermark (one row): daily_finding_counts and daily_report_counts hold every UTC day up to and including rolled_up_through, and nothing after it. Written only by the rollup job.';
COMMENT ON COLUMN history_rollup_state.id IS 'Always true: the table has one row.';
COMMENT ON COLUMN history_rollup_state.rolled_up_through IS 'Last UTC day rolled up; NULL = none yet (the views then aggregate every report).';
COMMENT ON COLUMN history_rollup_state.updated_at IS 'When the watermark last moved.';

CREATE TABLE daily_finding_counts (
  day      date    NOT NULL,
  severity text    NOT NULL,
  findings bigint  NOT NULL CHECK (findings >= 0),
  reports  integer NOT NULL CHECK (reports >= 0),
  PRIMARY KEY (day, severity)
);
COMMENT ON TABLE daily_finding_counts IS 'Vulnerability findings (status not not_affected) of the reports received each UTC day, by severity, for days up to history_rollup_state.rolled_up_through. Withdrawn reports (deleted_at) are subtracted when withdrawn; findings deleted by history retention stay counted. Read finding_counts_by_day, which adds the days not rolled up yet.';
COMMENT ON COLUMN daily_finding_counts.day IS 'UTC day of the reports'' receipt (scan_reports.received_at).';
COMMENT ON COLUMN daily_finding_counts.severity IS 'Finding severity: CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN.';
COMMENT ON COLUMN daily_finding_counts.findings IS 'Vulnerability findings of that severity, status not not_affected, in reports received that day and not withdrawn.';
COMMENT ON COLUMN daily_finding_counts.reports IS 'Distinct reports with at least one such finding (a report belongs to one day, so sums over days are exact).';

CREATE TABLE daily_report_counts (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  day             date        NOT NULL,
  source          text,
  scanner         text        NOT NULL,
  scanner_version text,
  format          text        NOT NULL,
  reports         integer     NOT NULL CHECK (reports > 0),
  last_received   timestamptz NOT NULL
);
CREATE INDEX daily_report_counts_day_idx ON daily_report_counts (day);
COMMENT ON TABLE daily_report_counts IS 'Reports received each UTC day by source, scanner, scanner version and format (withdrawn ones included, as in scan_reports), for days up to history_rollup_state.rolled_up_through. Read report_counts_by_day, which adds the days not rolled up yet.';
COMMENT ON COLUMN daily_report_counts.id IS 'Row ID.';
COMMENT ON COLUMN daily_report_counts.day IS 'UTC day of receipt (scan_reports.received_at).';
COMMENT ON COLUMN daily_report_counts.source IS 'scan_reports.source (NULL = not given).';
COMMENT ON COLUMN daily_report_counts.scanner IS 'scan_reports.scanner.';
COMMENT ON COLUMN daily_report_counts.scanner_version IS 'scan_reports.scanner_version (NULL = not known).';
COMMENT ON COLUMN daily_report_counts.format IS 'scan_reports.format.';
COMMENT ON COLUMN daily_report_counts.reports IS 'Reports received that day with these values.';
COMMENT ON COLUMN daily_report_counts.last_received IS 'Latest received_at among them.';
COMMENT ON INDEX daily_report_counts_day_idx IS 'Windows by day (report_counts_by_day).';

-- What a pruned report counted, kept when its findings are deleted, so that withdrawing it later subtracts exactly
-- what the rollup counted.
ALTER TABLE scan_reports ADD COLUMN pruned_vulnerability_counts jsonb;
COMMENT ON COLUMN scan_reports.pruned_vulnerability_counts IS 'Set when history retention prunes the report: its vulnerability findings (status not not_affected) by severity, e.g. {"HIGH": 3}, as the rollups counted them. NULL while the findings are kept.';

-- Where the views' live part starts. A STABLE function rather than a subquery: the planner evaluates it when it
-- estimates, so it knows that few reports follow the watermark and reads them by the received_at index.
CREATE FUNCTION history_rollup_live_from() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce((rolled_up_through + 1)::timestamp AT TIME ZONE 'UTC', '-infinity'::timestamptz) FROM history_rollup_state
$$;
COMMENT ON FUNCTION history_rollup_live_from() IS 'The first instant not rolled up (UTC midnight after history_rollup_state.rolled_up_through; -infinity when nothing is): the views finding_counts_by_day and report_counts_by_day count reports received from it on live.';

CREATE VIEW finding_counts_by_day AS
SELECT c.day, c.severity, c.findings, c.reports
FROM daily_finding_counts c
UNION ALL
SELECT (r.received_at AT TIME ZONE 'UTC')::date, f.severity, count(*), count(DISTINCT r.id)::integer
FROM scan_reports r
JOIN findings f ON f.report_id = r.id
WHERE f.kind = 'vulnerability'
  AND f.status IS DISTINCT FROM 'not_affected'
  AND r.deleted_at IS NULL
  AND r.received_at >= history_rollup_live_from()
GROUP BY 1, 2;
COMMENT ON VIEW finding_counts_by_day IS 'Exact vulnerability findings (status not not_affected, reports not withdrawn) per UTC day of receipt and severity: daily_finding_counts up to the watermark, plus a live count of the reports received after it. Findings deleted by history retention stay counted. Sum the rows of whole days for weeks or months.';
COMMENT ON COLUMN finding_counts_by_day.day IS 'UTC day of the reports'' receipt.';
COMMENT ON COLUMN finding_counts_by_day.severity IS 'Finding severity.';
COMMENT ON COLUMN finding_counts_by_day.findings IS 'Vulnerability findings of that severity that day.';
COMMENT ON COLUMN finding_counts_by_day.reports IS 'Distinct reports with such findings that day.';

CREATE VIEW report_counts_by_day AS
SELECT c.day, c.source, c.scanner, c.scanner_version, c.format, c.reports, c.last_received
FROM daily_report_counts c
UNION ALL
SELECT (r.received_at AT TIME ZONE 'UTC')::date, r.source, r.scanner, r.scanner_version, r.format, count(*)::integer, max(r.received_at)
FROM scan_reports r
WHERE r.received_at >= history_rollup_live_from()
GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW report_counts_by_day IS 'Exact report counts per UTC day of receipt, source, scanner, scanner version and format (withdrawn reports included): daily_report_counts up to the watermark, plus a live count of the reports received after it.';
COMMENT ON COLUMN report_counts_by_day.day IS 'UTC day of receipt.';
COMMENT ON COLUMN report_counts_by_day.source IS 'scan_reports.source (NULL = not given).';
COMMENT ON COLUMN report_counts_by_day.scanner IS 'scan_reports.scanner.';
COMMENT ON COLUMN report_counts_by_day.scanner_version IS 'scan_reports.scanner_version.';
COMMENT ON COLUMN report_counts_by_day.format IS 'scan_reports.format.';
COMMENT ON COLUMN report_counts_by_day.reports IS 'Reports received that day with these values.';
COMMENT ON COLUMN report_counts_by_day.last_received IS 'Latest receipt among them.';

-- Analysts read them like every other table (docs/sql.md): granted here, and by grant_scan_analyst_access() from now
-- on, which is redefined with the list of the daily_snapshots migration plus these relations.
CREATE OR REPLACE FUNCTION grant_scan_analyst_access() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  relation text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_analyst') THEN
    RAISE WARNING 'role scan_analyst does not exist: nothing granted';
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA public TO scan_analyst;
  FOREACH relation IN ARRAY ARRAY[
    'image_scans', 'scan_reports', 'scan_report_images', 'scan_report_raw', 'findings', 'vulnerabilities',
    'policy_versions', 'policy_exceptions', 'admission_decisions', 'current_findings', 'schema_migrations',
    'workload_containers', 'runtime_violations', 'inventory_snapshots', 'running_images',
    'incidents', 'incident_notes', 'incident_links', 'daily_snapshots',
    'history_rollup_state', 'daily_finding_counts', 'daily_report_counts', 'finding_counts_by_day', 'report_counts_by_day']
  LOOP
    IF to_regclass(format('public.%I', relation)) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT ON public.%I TO scan_analyst', relation);
    END IF;
  END LOOP;
  -- api_tokens: every column but the hash, so "which tokens exist, with which scopes, used when" stays answerable.
  -- SELECT * FROM api_tokens is therefore refused for analysts: name the columns.
  REVOKE ALL ON api_tokens FROM scan_analyst;
  GRANT SELECT (id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at) ON api_tokens TO scan_analyst;
  -- ui_sessions: nothing.
  REVOKE ALL ON ui_sessions FROM scan_analyst;
END
$$;
SELECT grant_scan_analyst_access();
