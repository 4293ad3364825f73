-- scan-registry initial schema. Analysts read these tables: names are plain, every table and column is commented.

CREATE TABLE scan_reports (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  received_at      timestamptz NOT NULL DEFAULT now(),
  scanned_at       timestamptz NOT NULL,
  format           text        NOT NULL,
  scanner          text        NOT NULL,
  scanner_version  text,
  artifact_name    text,
  artifact_type    text,
  config_digest    text,
  os_family        text,
  os_name          text,
  report_sha256    text        NOT NULL,
  source           text,
  uploaded_by      text,
  finding_count    integer     NOT NULL DEFAULT 0,
  evaluation_input jsonb       NOT NULL DEFAULT '[]'::jsonb,
  deleted_at       timestamptz,
  CONSTRAINT scan_reports_report_sha256_key UNIQUE (report_sha256)
);
COMMENT ON TABLE scan_reports IS 'One row per uploaded report (history). A report keys one or more image digests (scan_report_images).';
COMMENT ON COLUMN scan_reports.id IS 'Report ID, as returned by POST /v1/reports (report_id).';
COMMENT ON COLUMN scan_reports.received_at IS 'When the registry received the upload.';
COMMENT ON COLUMN scan_reports.scanned_at IS 'When the scan ran (Trivy CreatedAt, or the receipt time when the report does not say). The newest scanned_at is an image''s current report.';
COMMENT ON COLUMN scan_reports.format IS 'Input format: trivy, sarif, cyclonedx, trivy-operator or ecr.';
COMMENT ON COLUMN scan_reports.scanner IS 'Scanner that produced the report, e.g. Trivy or Amazon ECR.';
COMMENT ON COLUMN scan_reports.scanner_version IS 'Scanner version when the report says (Trivy.Version).';
COMMENT ON COLUMN scan_reports.artifact_name IS 'What was scanned, as the scanner named it (Trivy ArtifactName).';
COMMENT ON COLUMN scan_reports.artifact_type IS 'Kind of artifact (container_image, filesystem, ...).';
COMMENT ON COLUMN scan_reports.config_digest IS 'Image config ID (Trivy Metadata.ImageID); never used as the key, admission sees manifest digests.';
COMMENT ON COLUMN scan_reports.os_family IS 'Operating system family detected in the image (alpine, debian, ...).';
COMMENT ON COLUMN scan_reports.os_name IS 'Operating system version detected in the image.';
COMMENT ON COLUMN scan_reports.report_sha256 IS 'SHA-256 of the uploaded bytes (after gzip decoding): the same bytes uploaded twice are one report.';
COMMENT ON COLUMN scan_reports.source IS 'Free text from the uploader (?source=), e.g. github-actions.';
COMMENT ON COLUMN scan_reports.uploaded_by IS 'Name of the API token that uploaded the report, when known.';
COMMENT ON COLUMN scan_reports.finding_count IS 'Number of rows this report has in findings.';
COMMENT ON COLUMN scan_reports.evaluation_input IS 'Compact list of the report''s findings as the compliance evaluator reads them (kind, id, severity, fixable, status); derived from findings at ingest.';
COMMENT ON COLUMN scan_reports.deleted_at IS 'Set when the source withdrew the report (a Trivy Operator delete); the row is kept for history.';
CREATE INDEX scan_reports_received_at_idx ON scan_reports (received_at);

CREATE TABLE scan_report_raw (
  report_id   uuid    PRIMARY KEY REFERENCES scan_reports (id) ON DELETE CASCADE,
  byte_size   bigint  NOT NULL,
  gzip_bytes  bytea   NOT NULL
);
COMMENT ON TABLE scan_report_raw IS 'The bytes of each report as uploaded, gzip-compressed; served by GET /v1/reports/{id}/raw.';
COMMENT ON COLUMN scan_report_raw.report_id IS 'The report (scan_reports.id).';
COMMENT ON COLUMN scan_report_raw.byte_size IS 'Size of the uploaded report in bytes, uncompressed.';
COMMENT ON COLUMN scan_report_raw.gzip_bytes IS 'The uploaded bytes, gzip-compressed.';

CREATE TABLE scan_report_images (
  report_id    uuid  NOT NULL REFERENCES scan_reports (id) ON DELETE CASCADE,
  image_digest text  NOT NULL,
  repository   text,
  tags         text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (report_id, image_digest)
);
COMMENT ON TABLE scan_report_images IS 'Which image digests each report describes (a report may key several digests).';
COMMENT ON COLUMN scan_report_images.report_id IS 'The report (scan_reports.id).';
COMMENT ON COLUMN scan_report_images.image_digest IS 'Manifest digest (sha256:...) the report describes.';
COMMENT ON COLUMN scan_report_images.repository IS 'Repository the digest was named with, normalised (docker.io/library/nginx).';
COMMENT ON COLUMN scan_report_images.tags IS 'Tags the report names for this repository.';
CREATE INDEX scan_report_images_digest_idx ON scan_report_images (image_digest);
CREATE INDEX scan_report_images_repository_tags_idx ON scan_report_images USING gin (tags);

CREATE TABLE vulnerabilities (
  id               text        PRIMARY KEY,
  title            text,
  description      text,
  severity         text,
  cvss_score       numeric(3,1),
  published_at     timestamptz,
  last_modified_at timestamptz,
  primary_url      text,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE vulnerabilities IS 'Shared metadata of each vulnerability ID (also secret rule IDs and misconfiguration check IDs), stored once per ID.';
COMMENT ON COLUMN vulnerabilities.id IS 'Vulnerability ID (CVE-..., GHSA-...), secret rule ID or misconfiguration check ID.';
COMMENT ON COLUMN vulnerabilities.title IS 'Short title.';
COMMENT ON COLUMN vulnerabilities.description IS 'Long description.';
COMMENT ON COLUMN vulnerabilities.severity IS 'Severity the last report gave the ID (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN).';
COMMENT ON COLUMN vulnerabilities.cvss_score IS 'Highest CVSS base score a report gave (v3 preferred).';
COMMENT ON COLUMN vulnerabilities.published_at IS 'When the vulnerability was published.';
COMMENT ON COLUMN vulnerabilities.last_modified_at IS 'When the vulnerability record was last modified upstream.';
COMMENT ON COLUMN vulnerabilities.primary_url IS 'Primary reference URL.';
COMMENT ON COLUMN vulnerabilities.updated_at IS 'When this row last changed here.';

CREATE TABLE findings (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  report_id         uuid   NOT NULL REFERENCES scan_reports (id) ON DELETE CASCADE,
  kind              text   NOT NULL CHECK (kind IN ('vulnerability', 'secret', 'misconfiguration')),
  vulnerability_id  text   NOT NULL,
  pkg_name          text,
  installed_version text,
  fixed_version     text,
  status            text,
  severity          text   NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
  target            text,
  class             text,
  pkg_type          text,
  purl              text
);
COMMENT ON TABLE findings IS 'One row per finding in a report: a vulnerability in a package, a secret, or a misconfiguration.';
COMMENT ON COLUMN findings.id IS 'Row ID.';
COMMENT ON COLUMN findings.report_id IS 'The report (scan_reports.id).';
COMMENT ON COLUMN findings.kind IS 'vulnerability, secret or misconfiguration.';
COMMENT ON COLUMN findings.vulnerability_id IS 'CVE/GHSA ID, secret rule ID or misconfiguration check ID; metadata in vulnerabilities.';
COMMENT ON COLUMN findings.pkg_name IS 'Affected package (vulnerabilities).';
COMMENT ON COLUMN findings.installed_version IS 'Installed package version.';
COMMENT ON COLUMN findings.fixed_version IS 'Version that fixes it; NULL when no fix exists (unfixed).';
COMMENT ON COLUMN findings.status IS 'Trivy status (fixed, affected, will_not_fix, fix_deferred, end_of_life, not_affected, unknown) or misconfiguration result (FAIL, PASS). not_affected never counts; only FAIL misconfigurations count.';
COMMENT ON COLUMN findings.severity IS 'CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN, as the source reported it.';
COMMENT ON COLUMN findings.target IS 'Where it was found (OS, lock file, file path).';
COMMENT ON COLUMN findings.class IS 'Trivy result class (os-pkgs, lang-pkgs, secret, config).';
COMMENT ON COLUMN findings.pkg_type IS 'Package or config type (alpine, npm, dockerfile, ...).';
COMMENT ON COLUMN findings.purl IS 'Package URL of the affected package, when known.';
CREATE INDEX findings_report_id_idx ON findings (report_id);
CREATE INDEX findings_vulnerability_id_idx ON findings (vulnerability_id);

CREATE TABLE policy_versions (
  version     integer     PRIMARY KEY,
  rules       jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text
);
COMMENT ON TABLE policy_versions IS 'Every version of the compliance policy; the highest version is in force.';
COMMENT ON COLUMN policy_versions.version IS 'Version number, 1, 2, 3, ...';
COMMENT ON COLUMN policy_versions.rules IS 'The policy rules as JSON (max_severity_counts, ignore_unfixed, block_secrets, block_misconfiguration_severities, max_scan_age_days, unscanned).';
COMMENT ON COLUMN policy_versions.created_at IS 'When this version was set.';
COMMENT ON COLUMN policy_versions.created_by IS 'Who set it (token name).';
INSERT INTO policy_versions (version, rules, created_by) VALUES
  (1, '{"max_severity_counts":{"CRITICAL":0},"ignore_unfixed":false,"block_secrets":true,"block_misconfiguration_severities":[],"max_scan_age_days":null,"unscanned":"deny"}', 'default');

CREATE TABLE policy_exceptions (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  vulnerability_id text        NOT NULL,
  repository       text,
  image_digest     text,
  reason           text        NOT NULL,
  created_by       text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz,
  revoked_at       timestamptz,
  revoked_by       text
);
COMMENT ON TABLE policy_exceptions IS 'Accepted risks: a vulnerability ID that does not count for the images in scope while the exception is in force. Withdrawn exceptions are kept (revoked_at) for audit.';
COMMENT ON COLUMN policy_exceptions.id IS 'Exception ID.';
COMMENT ON COLUMN policy_exceptions.vulnerability_id IS 'The vulnerability (or secret rule / check) ID it accepts.';
COMMENT ON COLUMN policy_exceptions.repository IS 'Repository glob it is limited to (docker.io/library/*); NULL = any repository.';
COMMENT ON COLUMN policy_exceptions.image_digest IS 'Image digest it is limited to; NULL = any image.';
COMMENT ON COLUMN policy_exceptions.reason IS 'Why the risk is accepted.';
COMMENT ON COLUMN policy_exceptions.created_by IS 'Who granted it.';
COMMENT ON COLUMN policy_exceptions.created_at IS 'When it was granted.';
COMMENT ON COLUMN policy_exceptions.expires_at IS 'When it stops applying; NULL = no expiry.';
COMMENT ON COLUMN policy_exceptions.revoked_at IS 'When it was withdrawn; NULL = not withdrawn.';
COMMENT ON COLUMN policy_exceptions.revoked_by IS 'Who withdrew it.';
CREATE INDEX policy_exceptions_vulnerability_id_idx ON policy_exceptions (vulnerability_id);

CREATE TABLE image_scans (
  image_digest          text        PRIMARY KEY,
  repository            text,
  tags                  text[]      NOT NULL DEFAULT '{}',
  latest_report_id      uuid        REFERENCES scan_reports (id),
  scanned_at            timestamptz,
  is_compliant          boolean     NOT NULL,
  status                text        NOT NULL CHECK (status IN ('compliant', 'non_compliant', 'not_scanned', 'stale')),
  reasons               jsonb       NOT NULL DEFAULT '[]'::jsonb,
  policy_version        integer     NOT NULL,
  evaluated_at          timestamptz NOT NULL DEFAULT now(),
  valid_until           timestamptz,
  critical_count        integer     NOT NULL DEFAULT 0,
  high_count            integer     NOT NULL DEFAULT 0,
  medium_count          integer     NOT NULL DEFAULT 0,
  low_count             integer     NOT NULL DEFAULT 0,
  unknown_count         integer     NOT NULL DEFAULT 0,
  fixable_count         integer     NOT NULL DEFAULT 0,
  secret_count          integer     NOT NULL DEFAULT 0,
  misconfiguration_count integer    NOT NULL DEFAULT 0,
  first_seen_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE image_scans IS 'One row per image digest: its current report and current compliance verdict. SELECT is_compliant FROM image_scans WHERE image_digest = $1 answers "may this image run?".';
COMMENT ON COLUMN image_scans.image_digest IS 'Manifest digest (sha256: + 64 hex), what Kyverno resolves and docker push prints.';
COMMENT ON COLUMN image_scans.repository IS 'Repository of the current report, normalised (docker.io/library/nginx).';
COMMENT ON COLUMN image_scans.tags IS 'Tags the current report names.';
COMMENT ON COLUMN image_scans.latest_report_id IS 'The current report: the one with the newest scanned_at (scan_reports.id).';
COMMENT ON COLUMN image_scans.scanned_at IS 'When the current report''s scan ran.';
COMMENT ON COLUMN image_scans.is_compliant IS 'The current verdict: true when the image may run.';
COMMENT ON COLUMN image_scans.status IS 'compliant, non_compliant, not_scanned or stale.';
COMMENT ON COLUMN image_scans.reasons IS 'Why: a JSON array of {code, message, severity, count, limit, ids, total}.';
COMMENT ON COLUMN image_scans.policy_version IS 'Policy version the verdict was evaluated under (policy_versions.version).';
COMMENT ON COLUMN image_scans.evaluated_at IS 'When the verdict was last evaluated.';
COMMENT ON COLUMN image_scans.valid_until IS 'The verdict holds until this time (an exception expires, the scan goes stale); NULL = until something changes. Rows past it are re-evaluated within 60 s.';
COMMENT ON COLUMN image_scans.critical_count IS 'CRITICAL vulnerabilities in the current report (not_affected excluded).';
COMMENT ON COLUMN image_scans.high_count IS 'HIGH vulnerabilities in the current report.';
COMMENT ON COLUMN image_scans.medium_count IS 'MEDIUM vulnerabilities in the current report.';
COMMENT ON COLUMN image_scans.low_count IS 'LOW vulnerabilities in the current report.';
COMMENT ON COLUMN image_scans.unknown_count IS 'UNKNOWN-severity vulnerabilities in the current report.';
COMMENT ON COLUMN image_scans.fixable_count IS 'Vulnerabilities with a fixed version available.';
COMMENT ON COLUMN image_scans.secret_count IS 'Secrets found in the image.';
COMMENT ON COLUMN image_scans.misconfiguration_count IS 'Failed misconfiguration checks.';
COMMENT ON COLUMN image_scans.first_seen_at IS 'When the registry first received a report for this digest.';
CREATE INDEX image_scans_status_idx ON image_scans (status);
CREATE INDEX image_scans_repository_idx ON image_scans (repository);
CREATE INDEX image_scans_latest_report_id_idx ON image_scans (latest_report_id);
CREATE INDEX image_scans_valid_until_idx ON image_scans (valid_until) WHERE valid_until IS NOT NULL;

CREATE TABLE api_tokens (
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text        NOT NULL,
  token_prefix  text        NOT NULL,
  token_hash    text        NOT NULL UNIQUE,
  scopes        text[]      NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);
COMMENT ON TABLE api_tokens IS 'API tokens. Only a SHA-256 hash of each token is stored; scan_analyst cannot read token_hash.';
COMMENT ON COLUMN api_tokens.id IS 'Token ID.';
COMMENT ON COLUMN api_tokens.name IS 'Human name (ci, kyverno, alice).';
COMMENT ON COLUMN api_tokens.token_prefix IS 'First characters of the token, to recognise it in lists.';
COMMENT ON COLUMN api_tokens.token_hash IS 'SHA-256 of the token (hex). The token itself is shown once and never stored.';
COMMENT ON COLUMN api_tokens.scopes IS 'Granted scopes: reports:write, compliance:read, policy:write, admin.';
COMMENT ON COLUMN api_tokens.created_at IS 'When it was created.';
COMMENT ON COLUMN api_tokens.expires_at IS 'When it stops working; NULL = no expiry.';
COMMENT ON COLUMN api_tokens.revoked_at IS 'When it was revoked.';
COMMENT ON COLUMN api_tokens.last_used_at IS 'Last use (updated in batches, accurate to about a minute).';

CREATE TABLE admission_decisions (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  decided_at     timestamptz NOT NULL,
  image_digest   text,
  image_ref      text,
  namespace      text,
  is_compliant   boolean     NOT NULL,
  status         text        NOT NULL,
  reason         text,
  policy_version integer,
  token_id       uuid,
  token_name     text
);
COMMENT ON TABLE admission_decisions IS 'Decision log: one row per compliance lookup answered. Kept DECISION_LOG_RETENTION_DAYS days.';
COMMENT ON COLUMN admission_decisions.id IS 'Row ID.';
COMMENT ON COLUMN admission_decisions.decided_at IS 'When the lookup was answered.';
COMMENT ON COLUMN admission_decisions.image_digest IS 'Digest the answer was about (NULL when a tag could not be resolved).';
COMMENT ON COLUMN admission_decisions.image_ref IS 'Image reference as asked (?image= or the batch entry).';
COMMENT ON COLUMN admission_decisions.namespace IS 'Kubernetes namespace the caller named.';
COMMENT ON COLUMN admission_decisions.is_compliant IS 'The answer: may the image run.';
COMMENT ON COLUMN admission_decisions.status IS 'compliant, non_compliant, not_scanned or stale.';
COMMENT ON COLUMN admission_decisions.reason IS 'The one-line reason given.';
COMMENT ON COLUMN admission_decisions.policy_version IS 'Policy version of the answer.';
COMMENT ON COLUMN admission_decisions.token_id IS 'Token that asked (api_tokens.id), NULL when lookups need no token.';
COMMENT ON COLUMN admission_decisions.token_name IS 'Name of the token or Kubernetes identity that asked.';
CREATE INDEX admission_decisions_decided_at_idx ON admission_decisions (decided_at);
CREATE INDEX admission_decisions_digest_idx ON admission_decisions (image_digest, decided_at);

CREATE FUNCTION repository_glob_regex(glob text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT '^' || replace(replace(replace(replace(
    regexp_replace(glob, '([.+^$(){}|\[\]\\])', '\\\1', 'g'),
    '**', chr(1)), '*', '[^/]*'), '?', '[^/]'), chr(1), '.*') || '$'
$$;
COMMENT ON FUNCTION repository_glob_regex(text) IS 'Turns an exception''s repository glob into an anchored regular expression: * matches within one path segment, ** across segments, ? one character.';

CREATE VIEW current_findings AS
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
  ) AS excepted
FROM image_scans s
JOIN findings f ON f.report_id = s.latest_report_id;
COMMENT ON VIEW current_findings IS 'Every finding of each image''s current report, with whether an exception in force covers it.';
COMMENT ON COLUMN current_findings.image_digest IS 'Image digest (image_scans.image_digest).';
COMMENT ON COLUMN current_findings.repository IS 'Image repository.';
COMMENT ON COLUMN current_findings.is_compliant IS 'The image''s current verdict.';
COMMENT ON COLUMN current_findings.image_status IS 'The image''s current status.';
COMMENT ON COLUMN current_findings.report_id IS 'The image''s current report.';
COMMENT ON COLUMN current_findings.kind IS 'vulnerability, secret or misconfiguration.';
COMMENT ON COLUMN current_findings.vulnerability_id IS 'Vulnerability, secret rule or check ID.';
COMMENT ON COLUMN current_findings.pkg_name IS 'Affected package.';
COMMENT ON COLUMN current_findings.installed_version IS 'Installed version.';
COMMENT ON COLUMN current_findings.fixed_version IS 'Fixed version, NULL when unfixed.';
COMMENT ON COLUMN current_findings.status IS 'Finding status (fixed, affected, not_affected, FAIL, ...).';
COMMENT ON COLUMN current_findings.severity IS 'Severity.';
COMMENT ON COLUMN current_findings.target IS 'Where it was found.';
COMMENT ON COLUMN current_findings.class IS 'Trivy result class.';
COMMENT ON COLUMN current_findings.pkg_type IS 'Package type.';
COMMENT ON COLUMN current_findings.purl IS 'Package URL.';
COMMENT ON COLUMN current_findings.excepted IS 'True when an exception in force covers this finding for this image.';
