-- Re-evaluation rewrites every image_scans row after a policy change (new policy_version, evaluated_at, reasons).
-- Leaving 30% of each page free lets PostgreSQL update a row in place on its page (a HOT update) whenever no indexed
-- column changes, so most rows of a re-evaluation skip index maintenance. New pages get it at once; existing pages
-- as the table is rewritten (VACUUM FULL) or grows.
ALTER TABLE image_scans SET (fillfactor = 70);
