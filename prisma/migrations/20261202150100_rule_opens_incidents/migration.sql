-- Issue 15 item 2: a notification rule may also open an incident when a runtime violation with a CRITICAL
-- vulnerability opens: one incident per vulnerability and cluster, not one per event. auto_key names that pair; the
-- partial unique index lets one unresolved incident hold it at a time, so concurrent reconciliations (replicas, agents
-- of one cluster) cannot open two, and a resolved incident frees the key for the next occurrence.
ALTER TABLE notification_rules ADD COLUMN open_incident boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN notification_rules.open_incident IS 'When true (and the rule subscribes to runtime_violation.opened), a violation it matches whose image has an unexcepted CRITICAL vulnerability opens an incident per vulnerability and cluster, or is linked to the unresolved one already open for them.';

ALTER TABLE incidents ADD COLUMN auto_key text;
COMMENT ON COLUMN incidents.auto_key IS 'For an incident a notification rule opened: runtime-critical:<cluster>:<vulnerability ID>, the pair it stands for (one unresolved incident per key); NULL for incidents people opened.';
CREATE UNIQUE INDEX incidents_auto_key_open_key ON incidents (auto_key) WHERE auto_key IS NOT NULL AND status <> 'resolved';
