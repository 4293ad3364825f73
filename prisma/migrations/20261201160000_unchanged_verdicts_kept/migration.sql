-- Re-evaluation now rewrites only the image_scans rows whose verdict changes (issue 16): a row's policy_version and
-- evaluated_at say when its verdict was last written, and the verdict also holds under every later policy version
-- (each policy change re-evaluates every image in the transaction that creates the version).
COMMENT ON COLUMN image_scans.policy_version IS 'Policy version in force when this verdict was last written (policy_versions.version). A re-evaluation that reaches the same verdict does not rewrite the row, so the verdict also holds under every later version; the API answers the version in force.';
COMMENT ON COLUMN image_scans.evaluated_at IS 'When this verdict was last written. Re-evaluations that reach the same verdict leave it as it was; the API answers the later of this and the creation of the policy version in force.';
