import { updateVerdictBatch } from "../../src/db/image-scan-repository";
import type { Verdict } from "../../src/domain/verdict";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * A policy change flips many verdicts at once; each flip must stay a heap-only (HOT) update, or it writes a new entry
 * into every index of image_scans (see the migration verdict_updates_heap_only). Both checks fail when an index names
 * a column re-evaluation writes: the first by name, the second by PostgreSQL's own count of this transaction's HOT
 * updates.
 */
let database: TestDatabase;
const VERDICT_COLUMNS = ["is_compliant", "status", "reasons", "policy_version", "evaluated_at"];

beforeAll(async () => {
  database = await createTestDatabase();
  await database.db.pool.query(
    `INSERT INTO image_scans (image_digest, repository, tags, scanned_at, is_compliant, status, reasons, policy_version)
     SELECT 'sha256:' || lpad(to_hex(i), 64, '0'), 'registry.example.com/app', '{}', now(), false, 'non_compliant',
            '[{"code": "severity_threshold", "message": "3 HIGH > 2", "severity": "HIGH"}]', 1
     FROM generate_series(1, 500) AS i`,
  );
});
afterAll(async () => database?.drop());

test("no index of image_scans names a column that re-evaluation writes (key, expression or predicate)", async () => {
  const { rows } = await database.db.pool.query<{ name: string; definition: string }>(
    `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
     FROM pg_index WHERE indrelid = 'image_scans'::regclass`,
  );
  expect(rows.length).toBeGreaterThan(0);
  for (const { name, definition } of rows) {
    for (const column of VERDICT_COLUMNS) expect({ name, names: new RegExp(`\\b${column}\\b`).test(definition) }).toEqual({ name, names: false });
  }
});

// In one transaction the old version of a row stays on its page beside the new one, so a page can take as many HOT
// updates as its free space holds copies: fillfactor 50 leaves room for every other row of a page to flip at once.
test("when a batch flips every other verdict (as a policy change flips half of them), then every rewritten row is a HOT update", async () => {
  const client = await database.db.pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ image_digest: string }>("SELECT image_digest FROM image_scans ORDER BY image_digest");
    const batch = rows.filter((_, i) => i % 2 === 0).map((r) => ({
      imageDigest: r.image_digest,
      reportId: null,
      verdict: { isCompliant: true, status: "compliant", reasons: [], validUntil: null } satisfies Verdict,
    }));
    const written = await updateVerdictBatch(client, batch, 2, new Date());
    expect(written).toHaveLength(250);
    const stats = await client.query<{ updated: string; hot: string }>(
      `SELECT pg_stat_get_xact_tuples_updated('image_scans'::regclass) AS updated,
              pg_stat_get_xact_tuples_hot_updated('image_scans'::regclass) AS hot`,
    );
    expect(stats.rows[0]).toEqual({ updated: "250", hot: "250" });
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
});
