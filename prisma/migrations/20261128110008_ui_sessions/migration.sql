-- Web dashboard sign-in sessions. Kept in the database (not in process memory) so that every replica behind a load
-- balancer knows every session, sessions survive a restart, and revoking or expiring the token a person signed in
-- with ends their sessions at once (the session row is joined to api_tokens on every request).

CREATE TABLE ui_sessions (
  id_hash      text        PRIMARY KEY,
  token_id     uuid        NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  csrf_token   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  user_agent   text
);
COMMENT ON TABLE ui_sessions IS 'Web dashboard sessions (/ui): one row per signed-in browser. The cookie holds a random session ID; only its SHA-256 is stored.';
COMMENT ON COLUMN ui_sessions.id_hash IS 'SHA-256 (hex) of the session ID in the browser cookie; the ID itself is never stored.';
COMMENT ON COLUMN ui_sessions.token_id IS 'The API token the person signed in with (api_tokens.id); its scopes, expiry and revocation apply to the session.';
COMMENT ON COLUMN ui_sessions.csrf_token IS 'Synchronizer token every dashboard form must send back; only meaningful together with the session cookie.';
COMMENT ON COLUMN ui_sessions.created_at IS 'When the person signed in.';
COMMENT ON COLUMN ui_sessions.expires_at IS 'When the session ends (8 hours after sign-in, or earlier when the token expires); expired rows are deleted at later sign-ins.';
COMMENT ON COLUMN ui_sessions.user_agent IS 'Browser User-Agent at sign-in (truncated), to recognise sessions.';
CREATE INDEX ui_sessions_expires_at_idx ON ui_sessions (expires_at);
CREATE INDEX ui_sessions_token_id_idx ON ui_sessions (token_id);
