-- Issue 16 item 6: "report history of an image" (docs/sql.md) read every report ever received for the digest and
-- sorted them, so it grew with the image's history. It now asks for the newest 20 by receipt for that image
-- (scan_report_images.received_at), which this index returns in order: its cost is those 20, however long the
-- history is. It replaces scan_report_images_digest_idx (image_digest), whose lookups by digest alone (the Trivy
-- Operator delete and raw-report lookups, src/db/report-repository.ts) use this index's first column.
DROP INDEX scan_report_images_digest_idx;
CREATE INDEX scan_report_images_digest_received_idx ON scan_report_images (image_digest, received_at DESC);
COMMENT ON INDEX scan_report_images_digest_received_idx IS 'Reports of an image digest, newest receipt first: an image''s recent report history (docs/sql.md "report history of an image") and every lookup by digest.';
