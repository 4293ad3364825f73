-- Notifications (docs/notifications.md): destinations, rules, a transactional outbox of events, per-destination
-- delivery state and every delivery attempt.
--
-- An event is written in the same transaction as the change that caused it (a verdict flip, an exception about to
-- expire, a runtime violation opening or resolving), together with one job per matching destination. Any replica
-- delivers jobs, claiming them with FOR UPDATE SKIP LOCKED; a crash between commit and send loses nothing, and a
-- rolled-back change leaves no event behind.

CREATE TABLE notification_destinations (
  id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text        NOT NULL UNIQUE,
  type        text        NOT NULL CHECK (type IN ('webhook', 'slack', 'cloudevents')),
  url         text        NOT NULL CHECK (url ~ '^https?://'),
  secret      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text
);
COMMENT ON TABLE notification_destinations IS 'Where notifications go: a webhook, a Slack incoming webhook or a CloudEvents receiver. scan_analyst reads neither url (a Slack URL is itself a credential) nor secret.';
COMMENT ON COLUMN notification_destinations.id IS 'Destination ID.';
COMMENT ON COLUMN notification_destinations.name IS 'Human name, unique (security-alerts, slack-platform).';
COMMENT ON COLUMN notification_destinations.type IS 'webhook (signed JSON), slack (incoming-webhook message) or cloudevents (CloudEvents 1.0 structured JSON).';
COMMENT ON COLUMN notification_destinations.url IS 'http(s) URL the messages are POSTed to. Its address is checked at every send: link-local and cloud metadata addresses are always refused, private ones unless NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true.';
COMMENT ON COLUMN notification_destinations.secret IS 'Write-only HMAC-SHA256 key for X-Scan-Registry-Signature; NULL = unsigned. Never returned by the API, never logged, not readable by scan_analyst.';
COMMENT ON COLUMN notification_destinations.created_at IS 'When it was created.';
COMMENT ON COLUMN notification_destinations.created_by IS 'Name of the token that created it.';

CREATE TABLE notification_rules (
  id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name            text        NOT NULL,
  destination_id  uuid        NOT NULL REFERENCES notification_destinations (id) ON DELETE CASCADE,
  events          text[]      NOT NULL CHECK (cardinality(events) > 0 AND events <@ ARRAY['verdict.changed', 'runtime_violation.opened', 'runtime_violation.resolved', 'exception.expiring']),
  repository      text,
  cluster         text,
  namespace       text,
  min_severity    text        CHECK (min_severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text
);
COMMENT ON TABLE notification_rules IS 'Which events go to which destination. An event matches a rule when its type is listed and every filter the rule sets matches; it is sent once per destination however many of its rules match.';
COMMENT ON COLUMN notification_rules.id IS 'Rule ID.';
COMMENT ON COLUMN notification_rules.name IS 'Human name.';
COMMENT ON COLUMN notification_rules.destination_id IS 'notification_destinations.id; deleting the destination deletes its rules.';
COMMENT ON COLUMN notification_rules.events IS 'Event types: verdict.changed, runtime_violation.opened, runtime_violation.resolved, exception.expiring.';
COMMENT ON COLUMN notification_rules.repository IS 'Repository glob (as for exceptions: * within a path segment, ** across); NULL = any. Matches an event when one of its repositories matches.';
COMMENT ON COLUMN notification_rules.cluster IS 'Cluster name; NULL = any. Matches an event that happened in, or is about an image running in, that cluster.';
COMMENT ON COLUMN notification_rules.namespace IS 'Kubernetes namespace; NULL = any. Like cluster (both set: that namespace of that cluster).';
COMMENT ON COLUMN notification_rules.min_severity IS 'Lowest event severity that matches (CRITICAL > HIGH > MEDIUM > LOW > UNKNOWN); NULL = any. An event without a severity matches only rules without one.';
COMMENT ON COLUMN notification_rules.created_at IS 'When it was created.';
COMMENT ON COLUMN notification_rules.created_by IS 'Name of the token that created it.';
CREATE INDEX notification_rules_destination_id_idx ON notification_rules (destination_id);

CREATE TABLE notification_events (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type   text        NOT NULL CHECK (event_type IN ('verdict.changed', 'runtime_violation.opened', 'runtime_violation.resolved', 'exception.expiring')),
  occurred_at  timestamptz NOT NULL,
  change_id    bigint      NOT NULL,
  subject      text        NOT NULL,
  repositories text[]      NOT NULL DEFAULT '{}',
  placements   jsonb       NOT NULL DEFAULT '[]',
  severity     text        CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
  payload      jsonb       NOT NULL
);
COMMENT ON TABLE notification_events IS 'Transactional outbox: one row per event, written in the transaction of the change that caused it, only when at least one rule matched it. Kept NOTIFICATION_RETENTION_DAYS days once delivered.';
COMMENT ON COLUMN notification_events.id IS 'Event ID (the id receivers see, also the CloudEvents id): the same on every retry, so receivers can drop duplicates.';
COMMENT ON COLUMN notification_events.event_type IS 'verdict.changed, runtime_violation.opened, runtime_violation.resolved or exception.expiring.';
COMMENT ON COLUMN notification_events.occurred_at IS 'When the change committed its transaction (the service clock at the change).';
COMMENT ON COLUMN notification_events.change_id IS 'The transaction that wrote it (pg_current_xact_id(): one upload, policy change, exception change, sweep); events of one change are delivered together, e.g. one Slack message for a policy change that flips 50,000 verdicts.';
COMMENT ON COLUMN notification_events.subject IS 'What it is about: an image digest, an exception ID or a runtime violation ID.';
COMMENT ON COLUMN notification_events.repositories IS 'Repositories it concerns (rules filter on them with their repository glob).';
COMMENT ON COLUMN notification_events.placements IS 'Where it happened: a JSON array of {cluster, namespace} (rules filter on cluster and namespace).';
COMMENT ON COLUMN notification_events.severity IS 'Highest severity concerned (an image''s highest vulnerability severity, a secret counting as CRITICAL; an exception''s vulnerability); NULL = none.';
COMMENT ON COLUMN notification_events.payload IS 'The event''s data as receivers get it (the "data" member of webhook and CloudEvents bodies).';
CREATE INDEX notification_events_occurred_at_idx ON notification_events (occurred_at);
CREATE INDEX notification_events_subject_idx ON notification_events (subject);

CREATE TABLE notification_jobs (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id         uuid        NOT NULL REFERENCES notification_events (id) ON DELETE CASCADE,
  destination_id   uuid        NOT NULL REFERENCES notification_destinations (id) ON DELETE CASCADE,
  change_id        bigint      NOT NULL,
  status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  last_attempt_at  timestamptz,
  last_error       text,
  UNIQUE (event_id, destination_id)
);
COMMENT ON TABLE notification_jobs IS 'Delivery state of each event for each destination its rules matched: pending until a 2xx answer (delivered) or until retries have run NOTIFICATION_RETRY_HOURS (failed).';
COMMENT ON COLUMN notification_jobs.id IS 'Job ID.';
COMMENT ON COLUMN notification_jobs.event_id IS 'notification_events.id.';
COMMENT ON COLUMN notification_jobs.destination_id IS 'notification_destinations.id; deleting the destination deletes its jobs (the attempts stay in notification_deliveries).';
COMMENT ON COLUMN notification_jobs.change_id IS 'notification_events.change_id, copied so that a change''s jobs for one destination are claimed together.';
COMMENT ON COLUMN notification_jobs.status IS 'pending, delivered or failed.';
COMMENT ON COLUMN notification_jobs.attempts IS 'Attempts made so far.';
COMMENT ON COLUMN notification_jobs.next_attempt_at IS 'When a replica may attempt it next (exponential backoff with jitter after a failure).';
COMMENT ON COLUMN notification_jobs.created_at IS 'When the event was written; retries stop NOTIFICATION_RETRY_HOURS after it.';
COMMENT ON COLUMN notification_jobs.last_attempt_at IS 'When it was last attempted.';
COMMENT ON COLUMN notification_jobs.last_error IS 'What went wrong on the last failed attempt.';
CREATE INDEX notification_jobs_due_idx ON notification_jobs (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notification_jobs_change_idx ON notification_jobs (destination_id, change_id) WHERE status = 'pending';
CREATE INDEX notification_jobs_pending_created_at_idx ON notification_jobs (created_at) WHERE status = 'pending';
CREATE INDEX notification_jobs_event_id_idx ON notification_jobs (event_id);

CREATE TABLE notification_deliveries (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at               timestamptz NOT NULL,
  event_id         uuid,
  event_type       text        NOT NULL,
  destination_id   uuid        NOT NULL,
  destination_type text        NOT NULL,
  request_id       uuid        NOT NULL,
  attempt          integer     NOT NULL,
  status           text        NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
  response_status  integer,
  error            text,
  duration_ms      integer     NOT NULL
);
COMMENT ON TABLE notification_deliveries IS 'Every delivery attempt of every event to every destination (and every test send). Kept NOTIFICATION_RETENTION_DAYS days.';
COMMENT ON COLUMN notification_deliveries.id IS 'Row ID (increasing in the order attempts were recorded).';
COMMENT ON COLUMN notification_deliveries.at IS 'When the attempt started.';
COMMENT ON COLUMN notification_deliveries.event_id IS 'notification_events.id; NULL for a test send.';
COMMENT ON COLUMN notification_deliveries.event_type IS 'The event''s type, or test for POST /v1/notifications/destinations/{id}/test.';
COMMENT ON COLUMN notification_deliveries.destination_id IS 'notification_destinations.id (kept after the destination is deleted).';
COMMENT ON COLUMN notification_deliveries.destination_type IS 'webhook, slack or cloudevents.';
COMMENT ON COLUMN notification_deliveries.request_id IS 'The HTTP request (X-Scan-Registry-Delivery): one request may carry several events (a batch, a Slack summary).';
COMMENT ON COLUMN notification_deliveries.attempt IS 'Attempt number for this event and destination, from 1.';
COMMENT ON COLUMN notification_deliveries.status IS 'delivered (a 2xx answer), retrying (failed; another attempt is scheduled) or failed (failed; no more attempts).';
COMMENT ON COLUMN notification_deliveries.response_status IS 'HTTP status the receiver answered; NULL when there was no answer (refused address, timeout, connection error).';
COMMENT ON COLUMN notification_deliveries.error IS 'What went wrong, for people (never a secret); NULL when delivered.';
COMMENT ON COLUMN notification_deliveries.duration_ms IS 'How long the attempt took, in milliseconds.';
CREATE INDEX notification_deliveries_destination_idx ON notification_deliveries (destination_id, id);
CREATE INDEX notification_deliveries_event_id_idx ON notification_deliveries (event_id);
CREATE INDEX notification_deliveries_at_idx ON notification_deliveries (at);

-- exception.expiring is sent once per exception: this marks it (set by the expiry sweep in the transaction that
-- writes the event, so two replicas sweeping at once cannot both send it).
ALTER TABLE policy_exceptions ADD COLUMN expiry_notified_at timestamptz;
COMMENT ON COLUMN policy_exceptions.expiry_notified_at IS 'When exception.expiring was written for it (NOTIFY_EXCEPTION_EXPIRY_DAYS before expires_at); NULL = not yet.';
CREATE INDEX policy_exceptions_expiry_due_idx ON policy_exceptions (expires_at) WHERE revoked_at IS NULL AND expiry_notified_at IS NULL;

-- scan_analyst: every notification table, but of notification_destinations neither url nor secret. The function
-- is redefined whole: it keeps every earlier migration's grants (up to the runtime inventory) and adds these.
CREATE OR REPLACE FUNCTION grant_scan_analyst_access() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_analyst') THEN
    RAISE WARNING 'role scan_analyst does not exist: nothing granted';
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA public TO scan_analyst;
  GRANT SELECT ON
    image_scans, scan_reports, scan_report_images, scan_report_raw, findings, vulnerabilities,
    policy_versions, policy_exceptions, admission_decisions, current_findings, schema_migrations,
    workload_containers, runtime_violations, inventory_snapshots, running_images,
    notification_rules, notification_events, notification_jobs, notification_deliveries
  TO scan_analyst;
  -- api_tokens: every column but the hash, so "which tokens exist, with which scopes, used when" stays answerable.
  -- SELECT * FROM api_tokens is therefore refused for analysts: name the columns.
  REVOKE ALL ON api_tokens FROM scan_analyst;
  GRANT SELECT (id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at) ON api_tokens TO scan_analyst;
  -- ui_sessions: nothing.
  REVOKE ALL ON ui_sessions FROM scan_analyst;
  -- notification_destinations: not the secret, and not the URL (a Slack incoming-webhook URL is a credential).
  REVOKE ALL ON notification_destinations FROM scan_analyst;
  GRANT SELECT (id, name, type, created_at, created_by) ON notification_destinations TO scan_analyst;
END
$$;

SELECT grant_scan_analyst_access();
