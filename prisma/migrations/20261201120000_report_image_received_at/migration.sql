-- Issue 17 item 5: a report's claimed scan time decided which digest a tag named, and a claimed time far in the
-- future (CreatedAt 9999-12-31) kept that report current and its verdict fresh for ever.
--
-- 1. Tag lookups resolve to the digest of the newest *receipt* of a report naming the tag. A receipt is the upload
--    that linked report and image, or a later upload of the same bytes (a duplicate: it refreshes the time).
ALTER TABLE scan_report_images ADD COLUMN received_at timestamptz;
UPDATE scan_report_images i SET received_at = r.received_at FROM scan_reports r WHERE r.id = i.report_id;
ALTER TABLE scan_report_images ALTER COLUMN received_at SET DEFAULT now(), ALTER COLUMN received_at SET NOT NULL;
COMMENT ON COLUMN scan_report_images.received_at IS 'When the registry last received this report for this image: the upload that linked them, or a later upload of the same bytes. A tag lookup (GET /v1/compliance?image=repo:tag) answers for the digest with the newest.';
CREATE INDEX scan_report_images_repository_received_idx ON scan_report_images (repository, received_at DESC);

-- 2. Uploads now refuse a scan time more than 5 minutes after receipt (422 scanned_in_future). Reports stored
--    before with such a time are taken as scanned when they were received, and the images whose current report
--    that is are re-evaluated by the sweeper within a minute (valid_until: now), so a verdict is stale when it is.
--    Which report is current is not chosen again here: the next upload for the image decides, as always.
UPDATE scan_reports SET scanned_at = received_at WHERE scanned_at > received_at + interval '5 minutes';
UPDATE image_scans s SET scanned_at = r.scanned_at, valid_until = now()
FROM scan_reports r
WHERE r.id = s.latest_report_id AND s.scanned_at > r.scanned_at;
