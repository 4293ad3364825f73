-- Issue 17 item 10: an exception's author was whatever the caller wrote (POST /v1/exceptions {created_by}).
-- created_by is now always the name of the token (or dashboard sign-in) that granted it; who asked for the exception
-- may be written beside it, as free text the service does not vouch for.
ALTER TABLE policy_exceptions ADD COLUMN requested_by text;
COMMENT ON COLUMN policy_exceptions.requested_by IS 'Who asked for the exception, as the granter wrote it (free text, optional; not verified). NULL when not given.';
COMMENT ON COLUMN policy_exceptions.created_by IS 'Who granted it: the name of the API token or dashboard sign-in that made the request, recorded by the service. Rows from before 2026-12-01 may hold a name the caller wrote.';
