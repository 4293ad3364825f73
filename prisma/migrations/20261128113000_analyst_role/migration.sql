-- The read-only role for SQL analysts (docs/sql.md). scan_analyst is NOLOGIN: grant it to login users
--   CREATE ROLE alice LOGIN PASSWORD '…' IN ROLE scan_analyst;
-- It reads every table and view except secrets: api_tokens.token_hash (the rest of api_tokens is readable column by
-- column) and ui_sessions (session ID hashes and CSRF tokens), which it cannot read at all.
--
-- Roles belong to the whole PostgreSQL cluster while grants belong to each database, and several databases of one
-- cluster may run this migration (tests copy databases within one cluster; staging and production may share one):
-- creating the role must succeed when it already exists, also when another database creates it at the same moment.
-- A database user without CREATEROLE cannot create it: the migration then warns instead of failing the start, and a
-- DBA creates the role and runs SELECT grant_scan_analyst_access(); (docs/sql.md says how).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_analyst') THEN
    BEGIN
      CREATE ROLE scan_analyst NOLOGIN;
      COMMENT ON ROLE scan_analyst IS 'scan-registry read-only analysts: every table and view except API token hashes and dashboard sessions. Grant it to login users.';
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN
        NULL; -- created meanwhile by a migration of another database in this cluster
      WHEN insufficient_privilege THEN
        RAISE WARNING 'role scan_analyst not created: % may not create roles. As a superuser run: CREATE ROLE scan_analyst NOLOGIN; then, in this database: SELECT grant_scan_analyst_access();', current_user;
    END;
  END IF;
END
$$;

-- Explicit grants, table by table, rather than ALTER DEFAULT PRIVILEGES: a table added later may hold secrets, so
-- each later migration that adds a table for analysts grants it (and redefines this function to match).
CREATE FUNCTION grant_scan_analyst_access() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_analyst') THEN
    RAISE WARNING 'role scan_analyst does not exist: nothing granted';
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA public TO scan_analyst;
  GRANT SELECT ON
    image_scans, scan_reports, scan_report_images, scan_report_raw, findings, vulnerabilities,
    policy_versions, policy_exceptions, admission_decisions, current_findings, schema_migrations
  TO scan_analyst;
  -- api_tokens: every column but the hash, so "which tokens exist, with which scopes, used when" stays answerable.
  -- SELECT * FROM api_tokens is therefore refused for analysts: name the columns.
  REVOKE ALL ON api_tokens FROM scan_analyst;
  GRANT SELECT (id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at) ON api_tokens TO scan_analyst;
  -- ui_sessions: nothing.
  REVOKE ALL ON ui_sessions FROM scan_analyst;
END
$$;
COMMENT ON FUNCTION grant_scan_analyst_access() IS 'Grants the read-only scan_analyst role its SELECT rights in this database (idempotent). Run by the migration; run it again after creating the role by hand.';

SELECT grant_scan_analyst_access();
