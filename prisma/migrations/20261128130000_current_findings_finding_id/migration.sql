-- The reading API pages through an image's findings by finding ID. With the ID in current_findings it reads the
-- view instead of repeating the view's exception predicate (CREATE OR REPLACE VIEW may only add columns at the end;
-- the other columns, their comments and the analyst role's grant stay as they are).
CREATE OR REPLACE VIEW current_findings AS
SELECT
  s.image_digest,
  s.repository,
  s.is_compliant,
  s.status AS image_status,
  f.report_id,
  f.kind,
  f.vulnerability_id,
  f.pkg_name,
  f.installed_version,
  f.fixed_version,
  f.status,
  f.severity,
  f.target,
  f.class,
  f.pkg_type,
  f.purl,
  EXISTS (
    SELECT 1 FROM policy_exceptions e
    WHERE e.vulnerability_id = f.vulnerability_id
      AND e.revoked_at IS NULL
      AND (e.expires_at IS NULL OR e.expires_at > now())
      AND (e.image_digest IS NULL OR e.image_digest = s.image_digest)
      AND (e.repository IS NULL OR s.repository ~ repository_glob_regex(e.repository))
  ) AS excepted,
  f.id AS finding_id
FROM image_scans s
JOIN findings f ON f.report_id = s.latest_report_id;
COMMENT ON COLUMN current_findings.finding_id IS 'The finding (findings.id).';
