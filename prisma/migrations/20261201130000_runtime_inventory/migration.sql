-- Runtime inventory (issue 13): which image digests run in which workload containers of which clusters, the
-- running_images view joining them with the current verdicts, and runtime_violations, the periods a container ran
-- an image that is not compliant.
--
-- A workload_containers row is one *period* of one container of one workload running one image: it opens when a
-- source first reports it and closes (gone_at) when a snapshot no longer lists it. A container that comes back
-- later gets a new row, so "how long did it run" sums periods instead of counting the gaps. The rows that run now
-- are those with gone_at IS NULL; at most one such row per (cluster, namespace, kind, name, container, image).

CREATE TABLE workload_containers (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  cluster         text        NOT NULL,
  namespace       text        NOT NULL,
  kind            text        NOT NULL,
  name            text        NOT NULL,
  container       text        NOT NULL,
  container_type  text        NOT NULL DEFAULT 'regular' CHECK (container_type IN ('init', 'regular', 'ephemeral')),
  image_ref       text,
  repository      text,
  image_digest    text        CHECK (image_digest ~ '^sha256:[0-9a-f]{64}$'),
  image_key       text        NOT NULL GENERATED ALWAYS AS (coalesce(image_digest, 'ref:' || coalesce(image_ref, ''))) STORED,
  pods            integer     CHECK (pods >= 0),
  first_seen_at   timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL,
  gone_at         timestamptz,
  source          text        NOT NULL CHECK (source IN ('inventory', 'agent', 'trivy-operator')),
  CHECK (gone_at IS NULL OR gone_at >= first_seen_at)
);
COMMENT ON TABLE workload_containers IS 'Where images run: one row per period in which a container of a workload (Deployment, StatefulSet, DaemonSet, CronJob, Job, or a bare Pod) in a cluster ran one image. gone_at IS NULL = running now. Filled by inventory snapshots (POST /v1/inventory, scan-registry agent) and Trivy Operator reports.';
COMMENT ON COLUMN workload_containers.id IS 'Row ID (referenced by runtime_violations.workload_container_id).';
COMMENT ON COLUMN workload_containers.cluster IS 'Cluster name, as the inventory source named it (?cluster=).';
COMMENT ON COLUMN workload_containers.namespace IS 'Kubernetes namespace.';
COMMENT ON COLUMN workload_containers.kind IS 'Kind of the workload: the Pod''s top controller (Deployment for a ReplicaSet named <deployment>-<pod-template-hash>, CronJob for a Job named <cronjob>-<scheduled minutes>, StatefulSet, DaemonSet, Job, ...), or Pod for a Pod without one.';
COMMENT ON COLUMN workload_containers.name IS 'Name of the workload (of the Pod when kind = Pod).';
COMMENT ON COLUMN workload_containers.container IS 'Container name within the Pod spec.';
COMMENT ON COLUMN workload_containers.container_type IS 'regular (spec.containers), init (spec.initContainers) or ephemeral (spec.ephemeralContainers, kubectl debug).';
COMMENT ON COLUMN workload_containers.image_ref IS 'Image as the Pod spec names it, Docker-normalised (docker.io/library/nginx:1.27).';
COMMENT ON COLUMN workload_containers.repository IS 'Repository of image_ref, normalised (docker.io/library/nginx): the same form as image_scans.repository.';
COMMENT ON COLUMN workload_containers.image_digest IS 'Manifest digest the container runs (from status.containerStatuses[].imageID); NULL = unresolved: the runtime reported only an image config ID, or no status yet.';
COMMENT ON COLUMN workload_containers.image_key IS 'image_digest, or ''ref:'' || image_ref while unresolved: part of the identity of a running row.';
COMMENT ON COLUMN workload_containers.pods IS 'How many Pods of the workload ran this container with this image in the latest snapshot; NULL when the source does not say (Trivy Operator).';
COMMENT ON COLUMN workload_containers.first_seen_at IS 'When a source first reported this container running this image (start of the period).';
COMMENT ON COLUMN workload_containers.last_seen_at IS 'When a source last reported it running.';
COMMENT ON COLUMN workload_containers.gone_at IS 'When a snapshot of its cluster (or namespace) no longer listed it: the end of the period. NULL = running now.';
COMMENT ON COLUMN workload_containers.source IS 'Who last reported it: inventory (POST /v1/inventory, scan-registry inventory push), agent (scan-registry agent) or trivy-operator (its report labels).';

-- One running row per container and image: the key snapshots and operator reports upsert on.
CREATE UNIQUE INDEX workload_containers_running_key ON workload_containers (cluster, namespace, kind, name, container, image_key) WHERE gone_at IS NULL;
-- GET /v1/workloads pages running rows in this order; the filters on cluster and namespace use its prefix.
CREATE INDEX workload_containers_running_order_idx ON workload_containers (cluster, namespace, kind, name, container, id) WHERE gone_at IS NULL;
-- "Which running workloads have CVE-X / run digest D": from the image to its running containers.
CREATE INDEX workload_containers_running_digest_idx ON workload_containers (image_digest) WHERE gone_at IS NULL;
CREATE INDEX workload_containers_running_repository_idx ON workload_containers (repository) WHERE gone_at IS NULL;
-- History ("how long did CVE-X run in cluster prod"): every period of a digest.
CREATE INDEX workload_containers_digest_idx ON workload_containers (image_digest, cluster);

CREATE TABLE runtime_violations (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workload_container_id bigint      NOT NULL REFERENCES workload_containers (id) ON DELETE CASCADE,
  cluster               text        NOT NULL,
  namespace             text        NOT NULL,
  kind                  text        NOT NULL,
  name                  text        NOT NULL,
  container             text        NOT NULL,
  image_digest          text        NOT NULL,
  opened_at             timestamptz NOT NULL,
  opened_cause          text        NOT NULL CHECK (opened_cause IN ('report', 'policy', 'exception', 'expiry', 'scan_age', 'inventory')),
  status                text        NOT NULL CHECK (status IN ('non_compliant', 'stale', 'not_scanned')),
  reasons               jsonb       NOT NULL DEFAULT '[]'::jsonb,
  policy_version        integer,
  resolved_at           timestamptz,
  resolved_cause        text        CHECK (resolved_cause IN ('report', 'policy', 'exception', 'expiry', 'scan_age', 'inventory')),
  resolution            text        CHECK (resolution IN ('container_gone', 'image_compliant')),
  CHECK ((resolved_at IS NULL) = (resolved_cause IS NULL) AND (resolved_at IS NULL) = (resolution IS NULL)),
  CHECK (resolved_at IS NULL OR resolved_at >= opened_at)
);
COMMENT ON TABLE runtime_violations IS 'Periods in which a running container ran an image that was not compliant (non-compliant, stale, or not scanned while the policy denies unscanned images). Opened and resolved by the registry itself, in the transaction of the change that caused it. resolved_at IS NULL = open now.';
COMMENT ON COLUMN runtime_violations.id IS 'Violation ID.';
COMMENT ON COLUMN runtime_violations.workload_container_id IS 'The running period it belongs to (workload_containers.id).';
COMMENT ON COLUMN runtime_violations.cluster IS 'Cluster (copied from workload_containers).';
COMMENT ON COLUMN runtime_violations.namespace IS 'Namespace.';
COMMENT ON COLUMN runtime_violations.kind IS 'Workload kind.';
COMMENT ON COLUMN runtime_violations.name IS 'Workload name.';
COMMENT ON COLUMN runtime_violations.container IS 'Container name.';
COMMENT ON COLUMN runtime_violations.image_digest IS 'The image digest the container ran.';
COMMENT ON COLUMN runtime_violations.opened_at IS 'When it opened: the image started running while not compliant, or a running image turned not compliant.';
COMMENT ON COLUMN runtime_violations.opened_cause IS 'What opened it: inventory (a snapshot or operator report showed it running), report (a rescan), policy (a policy change), exception (an exception withdrawn or changed), expiry (an exception expired), scan_age (the scan passed max_scan_age_days).';
COMMENT ON COLUMN runtime_violations.status IS 'The image''s status when it opened: non_compliant, stale or not_scanned.';
COMMENT ON COLUMN runtime_violations.reasons IS 'The image''s reasons when it opened (as image_scans.reasons).';
COMMENT ON COLUMN runtime_violations.policy_version IS 'Policy version in force when it opened.';
COMMENT ON COLUMN runtime_violations.resolved_at IS 'When it resolved; NULL = open.';
COMMENT ON COLUMN runtime_violations.resolved_cause IS 'What resolved it (same values as opened_cause).';
COMMENT ON COLUMN runtime_violations.resolution IS 'How it resolved: container_gone (a snapshot no longer listed the container) or image_compliant (the image turned compliant).';

-- At most one open violation per running period: reconciliation inserts ON CONFLICT DO NOTHING on it.
CREATE UNIQUE INDEX runtime_violations_open_key ON runtime_violations (workload_container_id) WHERE resolved_at IS NULL;
CREATE INDEX runtime_violations_open_digest_idx ON runtime_violations (image_digest) WHERE resolved_at IS NULL;
CREATE INDEX runtime_violations_open_scope_idx ON runtime_violations (cluster, namespace) WHERE resolved_at IS NULL;
-- GET /v1/violations pages newest first (id DESC) within a cluster; history by digest.
CREATE INDEX runtime_violations_cluster_id_idx ON runtime_violations (cluster, namespace, id);
CREATE INDEX runtime_violations_digest_idx ON runtime_violations (image_digest, opened_at);
CREATE INDEX runtime_violations_workload_container_idx ON runtime_violations (workload_container_id);

CREATE TABLE inventory_snapshots (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  cluster       text        NOT NULL,
  namespace     text,
  received_at   timestamptz NOT NULL,
  source        text        NOT NULL CHECK (source IN ('inventory', 'agent')),
  pods          integer     NOT NULL,
  containers    integer     NOT NULL,
  unresolved    integer     NOT NULL,
  gone          integer     NOT NULL,
  uploaded_by   text
);
COMMENT ON TABLE inventory_snapshots IS 'Every inventory snapshot stored (POST /v1/inventory): when each cluster or namespace was last reported, and what it held.';
COMMENT ON COLUMN inventory_snapshots.id IS 'Row ID.';
COMMENT ON COLUMN inventory_snapshots.cluster IS 'Cluster the snapshot described.';
COMMENT ON COLUMN inventory_snapshots.namespace IS 'The one namespace it described; NULL = the whole cluster.';
COMMENT ON COLUMN inventory_snapshots.received_at IS 'When it was stored.';
COMMENT ON COLUMN inventory_snapshots.source IS 'inventory (an upload, scan-registry inventory push) or agent (scan-registry agent).';
COMMENT ON COLUMN inventory_snapshots.pods IS 'Pods in the snapshot (finished Pods included).';
COMMENT ON COLUMN inventory_snapshots.containers IS 'Workload containers it listed as running.';
COMMENT ON COLUMN inventory_snapshots.unresolved IS 'Of those, how many without a resolvable image digest.';
COMMENT ON COLUMN inventory_snapshots.gone IS 'Containers it marked gone (running before, absent from it).';
COMMENT ON COLUMN inventory_snapshots.uploaded_by IS 'Name of the token that sent it.';
CREATE INDEX inventory_snapshots_cluster_idx ON inventory_snapshots (cluster, received_at);

-- The containers running now with their image's current verdict. An image without an image_scans row is
-- not_scanned, compliant only while the policy in force says unscanned: allow (as a lookup answers). A container
-- whose digest is unresolved has status 'unresolved' and is_compliant NULL: its image is not known.
CREATE VIEW running_images AS
SELECT
  w.id AS workload_container_id,
  w.cluster,
  w.namespace,
  w.kind,
  w.name,
  w.container,
  w.container_type,
  w.image_ref,
  coalesce(s.repository, w.repository) AS repository,
  w.image_digest,
  w.first_seen_at,
  w.last_seen_at,
  w.gone_at,
  w.source,
  w.pods,
  CASE WHEN w.image_digest IS NULL THEN 'unresolved' ELSE coalesce(s.status, 'not_scanned') END AS status,
  CASE WHEN w.image_digest IS NULL THEN NULL ELSE coalesce(s.is_compliant, coalesce(p.unscanned_allowed, false)) END AS is_compliant,
  CASE
    WHEN w.image_digest IS NULL THEN '[]'::jsonb
    WHEN s.image_digest IS NOT NULL THEN s.reasons
    WHEN p.unscanned_allowed THEN '[{"code":"unscanned_allowed","message":"no scan report for this image; allowed by policy"}]'::jsonb
    ELSE '[{"code":"not_scanned","message":"no scan report for this image"}]'::jsonb
  END AS reasons,
  s.scanned_at,
  s.latest_report_id,
  coalesce(s.policy_version, p.version) AS policy_version
FROM workload_containers w
LEFT JOIN image_scans s ON s.image_digest = w.image_digest
LEFT JOIN (
  SELECT version, coalesce(rules->>'unscanned', 'deny') = 'allow' AS unscanned_allowed FROM policy_versions ORDER BY version DESC LIMIT 1
) p ON true
WHERE w.gone_at IS NULL;
COMMENT ON VIEW running_images IS 'Every container running now (workload_containers with gone_at IS NULL) with its image''s current verdict. status: compliant, non_compliant, stale, not_scanned (no report) or unresolved (no digest known).';
COMMENT ON COLUMN running_images.workload_container_id IS 'The running period (workload_containers.id).';
COMMENT ON COLUMN running_images.cluster IS 'Cluster.';
COMMENT ON COLUMN running_images.namespace IS 'Namespace.';
COMMENT ON COLUMN running_images.kind IS 'Workload kind.';
COMMENT ON COLUMN running_images.name IS 'Workload name.';
COMMENT ON COLUMN running_images.container IS 'Container name.';
COMMENT ON COLUMN running_images.container_type IS 'regular, init or ephemeral.';
COMMENT ON COLUMN running_images.image_ref IS 'Image as the Pod spec names it.';
COMMENT ON COLUMN running_images.repository IS 'Repository: the image''s current report''s, else the one of image_ref.';
COMMENT ON COLUMN running_images.image_digest IS 'Manifest digest; NULL = unresolved.';
COMMENT ON COLUMN running_images.first_seen_at IS 'Start of the running period.';
COMMENT ON COLUMN running_images.last_seen_at IS 'When last reported running.';
COMMENT ON COLUMN running_images.gone_at IS 'Always NULL here (running now); kept so the view has workload_containers'' columns.';
COMMENT ON COLUMN running_images.source IS 'inventory, agent or trivy-operator.';
COMMENT ON COLUMN running_images.pods IS 'Pods running it in the latest snapshot.';
COMMENT ON COLUMN running_images.status IS 'The image''s current status: compliant, non_compliant, stale, not_scanned, or unresolved when the digest is not known.';
COMMENT ON COLUMN running_images.is_compliant IS 'The image''s current verdict (image_scans.is_compliant; for an image never scanned, whether the policy allows unscanned images); NULL when unresolved.';
COMMENT ON COLUMN running_images.reasons IS 'The verdict''s reasons.';
COMMENT ON COLUMN running_images.scanned_at IS 'When the image''s current report was scanned; NULL = never.';
COMMENT ON COLUMN running_images.latest_report_id IS 'The image''s current report (join findings / current_findings on it).';
COMMENT ON COLUMN running_images.policy_version IS 'Policy version of the verdict (the version in force for an image never scanned).';

-- Analysts read all three (nothing here is secret). The grant function is redefined to include them, so a DBA who
-- creates the role later grants everything with one call.
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
    workload_containers, runtime_violations, inventory_snapshots, running_images
  TO scan_analyst;
  REVOKE ALL ON api_tokens FROM scan_analyst;
  GRANT SELECT (id, name, token_prefix, scopes, created_at, expires_at, revoked_at, last_used_at) ON api_tokens TO scan_analyst;
  REVOKE ALL ON ui_sessions FROM scan_analyst;
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'scan_analyst') THEN
    GRANT SELECT ON workload_containers, runtime_violations, inventory_snapshots, running_images TO scan_analyst;
  END IF;
END
$$;
