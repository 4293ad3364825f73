-- Trends (issue 18 item 3): one row per UTC day with the fleet's figures as they were when it was taken, so the
-- overview can chart 30 and 90 days and analysts can query the history. Taken once a day by one replica (an
-- advisory lock; the primary key keeps a second one out), and at start when today's is missing.
CREATE TABLE daily_snapshots (
  day                 date        PRIMARY KEY,
  taken_at            timestamptz NOT NULL,
  images              integer     NOT NULL CHECK (images >= 0),
  compliant           integer     NOT NULL CHECK (compliant >= 0),
  non_compliant       integer     NOT NULL CHECK (non_compliant >= 0),
  stale               integer     NOT NULL CHECK (stale >= 0),
  not_scanned         integer     NOT NULL CHECK (not_scanned >= 0),
  critical            bigint      NOT NULL CHECK (critical >= 0),
  high                bigint      NOT NULL CHECK (high >= 0),
  medium              bigint      NOT NULL CHECK (medium >= 0),
  low                 bigint      NOT NULL CHECK (low >= 0),
  unknown             bigint      NOT NULL CHECK (unknown >= 0),
  secrets             bigint      NOT NULL CHECK (secrets >= 0),
  misconfigurations   bigint      NOT NULL CHECK (misconfigurations >= 0),
  open_violations     integer     NOT NULL CHECK (open_violations >= 0)
);
COMMENT ON TABLE daily_snapshots IS 'The fleet''s figures once per UTC day (the dashboard overview''s trend charts): image verdict counts from image_scans, findings of every current report by severity, open runtime violations. Written once per day by one replica; never updated.';
COMMENT ON COLUMN daily_snapshots.day IS 'The UTC day the snapshot stands for.';
COMMENT ON COLUMN daily_snapshots.taken_at IS 'When it was taken (the first moment of that day a replica took it).';
COMMENT ON COLUMN daily_snapshots.images IS 'Images with a stored verdict (image_scans rows).';
COMMENT ON COLUMN daily_snapshots.compliant IS 'Of those, status compliant.';
COMMENT ON COLUMN daily_snapshots.non_compliant IS 'Of those, status non_compliant.';
COMMENT ON COLUMN daily_snapshots.stale IS 'Of those, status stale (scan older than the policy allows).';
COMMENT ON COLUMN daily_snapshots.not_scanned IS 'Of those, status not_scanned.';
COMMENT ON COLUMN daily_snapshots.critical IS 'CRITICAL vulnerabilities in every image''s current report (sum of image_scans.critical_count).';
COMMENT ON COLUMN daily_snapshots.high IS 'HIGH vulnerabilities (sum of image_scans.high_count).';
COMMENT ON COLUMN daily_snapshots.medium IS 'MEDIUM vulnerabilities (sum of image_scans.medium_count).';
COMMENT ON COLUMN daily_snapshots.low IS 'LOW vulnerabilities (sum of image_scans.low_count).';
COMMENT ON COLUMN daily_snapshots.unknown IS 'UNKNOWN-severity vulnerabilities (sum of image_scans.unknown_count).';
COMMENT ON COLUMN daily_snapshots.secrets IS 'Secrets found (sum of image_scans.secret_count).';
COMMENT ON COLUMN daily_snapshots.misconfigurations IS 'Failed misconfiguration checks (sum of image_scans.misconfiguration_count).';
COMMENT ON COLUMN daily_snapshots.open_violations IS 'Runtime violations open at that moment (runtime_violations with resolved_at IS NULL).';

-- Analysts read the history like every other table (docs/sql.md): granted here, and by grant_scan_analyst_access()
-- from now on, which is redefined with the list of the incidents migration plus this table.
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
    'incidents', 'incident_notes', 'incident_links', 'daily_snapshots']
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
