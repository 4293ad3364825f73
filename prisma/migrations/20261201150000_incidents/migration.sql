-- Incidents kept beside the scan results (PRODUCT.md, "Incidents and VEX"), so that SQL can join the analysis of an
-- incident — its timeline, root cause and fix — to the images, vulnerabilities and workloads it concerns.
--
-- Every change to an incident is a row of incident_notes (a note, or a change entry with the old and new value),
-- written in the same transaction as the change and never edited afterwards: a trigger refuses UPDATE and DELETE.

CREATE TABLE incidents (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title        text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'investigating', 'mitigated', 'resolved')),
  severity     text        NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
  owner        text,
  summary      text,
  root_cause   text,
  remediation  text,
  opened_at    timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  created_by   text        NOT NULL,
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
COMMENT ON TABLE incidents IS 'Security incidents: what happened, who owns it, its root cause and remediation. The history of every change is in incident_notes; what it concerns is in incident_links.';
COMMENT ON COLUMN incidents.id IS 'Incident number (1, 2, …), as the API, CLI and dashboard show it.';
COMMENT ON COLUMN incidents.title IS 'One-line title.';
COMMENT ON COLUMN incidents.status IS 'open, investigating, mitigated or resolved.';
COMMENT ON COLUMN incidents.severity IS 'CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN (the same scale as findings).';
COMMENT ON COLUMN incidents.owner IS 'Who drives it (a person or team, free text); NULL = nobody yet.';
COMMENT ON COLUMN incidents.summary IS 'What happened (Markdown).';
COMMENT ON COLUMN incidents.root_cause IS 'Root-cause analysis (Markdown).';
COMMENT ON COLUMN incidents.remediation IS 'Fix and follow-up steps (Markdown).';
COMMENT ON COLUMN incidents.opened_at IS 'When it was opened.';
COMMENT ON COLUMN incidents.resolved_at IS 'When its status last became resolved; NULL while not resolved (a reopened incident loses it). resolved_at - opened_at is the time to resolve.';
COMMENT ON COLUMN incidents.updated_at IS 'When anything about it (fields, notes, links) last changed.';
COMMENT ON COLUMN incidents.created_by IS 'Name of the API token that opened it.';
CREATE INDEX incidents_status_id_idx ON incidents (status, id);
CREATE INDEX incidents_severity_id_idx ON incidents (severity, id);

CREATE TABLE incident_notes (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id  bigint      NOT NULL REFERENCES incidents (id),
  kind         text        NOT NULL CHECK (kind IN ('opened', 'note', 'change', 'link_added', 'link_removed')),
  author       text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  body         text        NOT NULL,
  field        text        CHECK (field IN ('title', 'status', 'severity', 'owner', 'summary', 'root_cause', 'remediation')),
  old_value    text,
  new_value    text,
  CHECK ((kind = 'change') = (field IS NOT NULL))
);
COMMENT ON TABLE incident_notes IS 'An incident''s timeline: notes and every change (opening, field changes, links added and removed), in order. Entries are never edited or deleted.';
COMMENT ON COLUMN incident_notes.id IS 'Entry ID; increasing, so ORDER BY id is the timeline''s order.';
COMMENT ON COLUMN incident_notes.incident_id IS 'The incident (incidents.id).';
COMMENT ON COLUMN incident_notes.kind IS 'opened, note (a person''s Markdown note), change (one field changed), link_added or link_removed.';
COMMENT ON COLUMN incident_notes.author IS 'Name of the API token that wrote it.';
COMMENT ON COLUMN incident_notes.created_at IS 'When it was written.';
COMMENT ON COLUMN incident_notes.body IS 'The note (Markdown) for kind note; a generated description for the other kinds.';
COMMENT ON COLUMN incident_notes.field IS 'For kind change: the field that changed (title, status, severity, owner, summary, root_cause, remediation).';
COMMENT ON COLUMN incident_notes.old_value IS 'For kind change: the value before (NULL = empty).';
COMMENT ON COLUMN incident_notes.new_value IS 'For kind change: the value after (NULL = empty).';
CREATE INDEX incident_notes_incident_id_idx ON incident_notes (incident_id, id);

CREATE FUNCTION incident_notes_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'incident_notes entries are never edited or deleted (% refused); add a new entry instead', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION incident_notes_append_only() IS 'Refuses UPDATE and DELETE on incident_notes: an incident''s timeline is append-only.';
CREATE TRIGGER incident_notes_append_only BEFORE UPDATE OR DELETE ON incident_notes
  FOR EACH ROW EXECUTE FUNCTION incident_notes_append_only();

CREATE TABLE incident_links (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id      bigint      NOT NULL REFERENCES incidents (id),
  vulnerability_id text,
  image_digest     text        CHECK (image_digest ~ '^sha256:[0-9a-f]{64}$'),
  repository       text,
  cluster          text,
  namespace        text,
  kind             text,
  name             text,
  violation_id     bigint      REFERENCES runtime_violations (id) ON DELETE CASCADE,
  exception_id     uuid        REFERENCES policy_exceptions (id),
  created_by       text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (num_nonnulls(vulnerability_id, image_digest, repository, cluster, violation_id, exception_id) = 1),
  CHECK ((cluster IS NULL AND namespace IS NULL AND kind IS NULL AND name IS NULL)
      OR (cluster IS NOT NULL AND namespace IS NOT NULL AND kind IS NOT NULL AND name IS NOT NULL))
);
COMMENT ON TABLE incident_links IS 'What an incident concerns: one row per linked item, exactly one of a vulnerability, an image digest, a repository, a workload (cluster, namespace, kind, name), a runtime violation or an exception.';
COMMENT ON COLUMN incident_links.id IS 'Link ID.';
COMMENT ON COLUMN incident_links.incident_id IS 'The incident (incidents.id).';
COMMENT ON COLUMN incident_links.vulnerability_id IS 'A linked vulnerability ID (findings.vulnerability_id), or NULL.';
COMMENT ON COLUMN incident_links.image_digest IS 'A linked image digest (image_scans.image_digest), or NULL.';
COMMENT ON COLUMN incident_links.repository IS 'A linked repository, normalised like image_scans.repository (docker.io/library/nginx), or NULL.';
COMMENT ON COLUMN incident_links.cluster IS 'A linked workload: its cluster (with namespace, kind and name), or NULL.';
COMMENT ON COLUMN incident_links.namespace IS 'A linked workload: its namespace.';
COMMENT ON COLUMN incident_links.kind IS 'A linked workload: its kind (Deployment, StatefulSet, CronJob, Pod, …).';
COMMENT ON COLUMN incident_links.name IS 'A linked workload: its name.';
COMMENT ON COLUMN incident_links.violation_id IS 'A linked runtime violation (runtime_violations.id), or NULL. Should a violation ever be deleted, its link goes with it; the timeline keeps the entry.';
COMMENT ON COLUMN incident_links.exception_id IS 'A linked exception (policy_exceptions.id), or NULL.';
COMMENT ON COLUMN incident_links.created_by IS 'Name of the API token that added the link.';
COMMENT ON COLUMN incident_links.created_at IS 'When the link was added.';
CREATE UNIQUE INDEX incident_links_target_key ON incident_links (
  incident_id, coalesce(vulnerability_id, ''), coalesce(image_digest, ''), coalesce(repository, ''),
  coalesce(cluster, ''), coalesce(namespace, ''), coalesce(kind, ''), coalesce(name, ''),
  coalesce(violation_id, 0), coalesce(exception_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE INDEX incident_links_vulnerability_id_idx ON incident_links (vulnerability_id) WHERE vulnerability_id IS NOT NULL;
CREATE INDEX incident_links_image_digest_idx ON incident_links (image_digest) WHERE image_digest IS NOT NULL;
CREATE INDEX incident_links_repository_idx ON incident_links (repository) WHERE repository IS NOT NULL;
CREATE INDEX incident_links_workload_idx ON incident_links (cluster, namespace, kind, name) WHERE cluster IS NOT NULL;
CREATE INDEX incident_links_violation_id_idx ON incident_links (violation_id) WHERE violation_id IS NOT NULL;
CREATE INDEX incident_links_exception_id_idx ON incident_links (exception_id) WHERE exception_id IS NOT NULL;

-- Analysts read incidents like every other table (docs/sql.md). grant_scan_analyst_access() is redefined to include
-- them. Helpers add tables in parallel migrations, so the list names every analysts' table known when this was
-- written and grants those that exist: whichever migration runs last, re-running the function grants them all.
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
    'incidents', 'incident_notes', 'incident_links']
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
