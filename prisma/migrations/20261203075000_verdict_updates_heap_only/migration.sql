-- Verdict updates stay heap-only (issue 16 item 4). A policy change flips the status of many images at once; while an
-- index named status, every flip was a non-HOT update: a new tuple written to every index of image_scans (primary key,
-- repository, latest report, valid-until, status), about 5.5 WAL records per row. Without it a flip that leaves
-- valid_until alone is a HOT update (fillfactor 70 leaves the room): EXPLAIN (ANALYZE, WAL) of one UPDATE flipping
-- 50,000 of the reevaluate bench's 100,000 rows wrote 267,716–286,402 WAL records in 2.1–3.2 s with the index and
-- 86,379–86,421 records in 0.96–1.1 s without it.
-- GET /v1/images?status= pages in digest order through the primary key, filtering by status as it goes: a page reads
-- the images up to its last match (all of them for a status no image has: a scan of the primary key, milliseconds per
-- 100,000 images). The counts by status are aggregates over the whole table, which never used the index.
DROP INDEX IF EXISTS image_scans_status_digest_idx;

-- A HOT update needs room on the row's page for the new version while the old one is still there (it is dead only
-- after the transaction commits and a later access prunes it). A policy change flipping half the images writes a new
-- version of half the rows of each page in one transaction; fillfactor 70 (20261128120000) left room for about 43 %
-- of a page's rows, so 85 % of the bench's flips were HOT; 50 leaves room for every other row. The table takes up to
-- twice its packed size (a lookup still reads one heap page). It applies to pages written from now on; existing
-- deployments reach it as rows move (or at once with VACUUM FULL image_scans, which takes an exclusive lock).
ALTER TABLE image_scans SET (fillfactor = 50);
