/**
 * Issue 17 item 5: a report's claimed scan time must not pin a verdict nor decide what a tag names. Uploads refuse a
 * scan time more than 5 minutes after receipt; a tag names the digest of the report received last.
 */
import { migrate, readMigrations } from "../../src/db/migrator";
import { createEmptyDatabase } from "../support/empty-database";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { bearer, JUICE_SHOP } from "./policy-support";

let now = new Date("2026-06-01T12:00:00.000Z");
let app: TestApp;
const JUICE = (readFixtureJson(JUICE_SHOP).Metadata.RepoDigests[0] as string).split("@")[1]!;
const TAG = "bkimminich/juice-shop:v10.2.0";

beforeAll(async () => {
  app = await startTestApp({ clock: () => now });
});
afterAll(async () => app.close());

const later = (ms: number) => (now = new Date(now.getTime() + ms));

/** The juice-shop report with nothing found in it (what an attacker would send to be let through). */
function cleanJuiceShop(createdAt: string, options: { keepRepoDigests?: boolean; renamed?: string } = {}): string {
  const report = readFixtureJson(JUICE_SHOP);
  report.CreatedAt = createdAt;
  report.Results = [];
  if (!options.keepRepoDigests) report.Metadata.RepoDigests = [];
  if (options.renamed) {
    report.ArtifactName = options.renamed;
    report.Metadata.RepoTags = [options.renamed];
  }
  return JSON.stringify(report);
}

const upload = (body: string | Buffer, query: Record<string, string> = {}) =>
  app.http
    .post("/v1/reports")
    .query(query)
    .set({ ...bearer(app.adminToken), "Content-Type": "application/json" })
    .send(body.toString());

const tagLookup = () => app.http.get("/v1/compliance").query({ image: TAG }).set(bearer(app.adminToken));

describe("when a report claims CreatedAt 9999-12-31T23:59:59Z", () => {
  test("then it is refused (422 scanned_in_future, at body.CreatedAt) and nothing is written", async () => {
    const before = await app.database.rowCounts();
    const res = await upload(cleanJuiceShop("9999-12-31T23:59:59Z", { keepRepoDigests: true }));
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe("scanned_in_future");
    expect(res.body.detail).toContain("9999-12-31T23:59:59.000Z");
    expect(res.body.detail).toMatch(/5 minutes/);
    expect(res.body.errors).toEqual([{ path: "body.CreatedAt", message: "must not be later than 2026-06-01T12:05:00.000Z" }]);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then the real scan uploaded after it decides the verdict: non_compliant", async () => {
    later(60_000);
    const res = await upload(readFixture(JUICE_SHOP));
    expect(res.status).toBe(201);
    const lookup = await app.http.get(`/v1/images/${JUICE}/compliance`).set(bearer(app.adminToken));
    expect(lookup.body).toMatchObject({ image_digest: JUICE, is_compliant: false, status: "non_compliant" });
  });

  test("then, uploaded for the juice-shop tag and another digest, it is refused and the tag keeps naming the scanned digest", async () => {
    later(60_000);
    const other = fakeDigest("hijack");
    const res = await upload(cleanJuiceShop("9999-12-31T23:59:59Z"), { image: `${TAG}@${other}` });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("scanned_in_future");
    // The real scan uploaded again (the same bytes: a duplicate) still answers for the tag.
    expect((await upload(readFixture(JUICE_SHOP))).body.duplicate).toBe(true);
    expect((await tagLookup()).body).toMatchObject({ image_digest: JUICE, is_compliant: false, status: "non_compliant" });
    const stored = await app.database.db.pool.query("SELECT 1 FROM image_scans WHERE image_digest = $1", [other]);
    expect(stored.rowCount).toBe(0);
  });
});

describe("when the scanner's clock is a little ahead", () => {
  test("then up to 5 minutes ahead of receipt is accepted as it is, and a second more is refused", async () => {
    const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
    const ok = await upload(cleanJuiceShop(at(5 * 60_000), { renamed: "registry.example.com/skew:1" }), { digest: fakeDigest("skew-ok") });
    expect(ok.status).toBe(201);
    const row = await app.database.db.pool.query<{ scanned_at: Date }>("SELECT scanned_at FROM image_scans WHERE image_digest = $1", [fakeDigest("skew-ok")]);
    expect(row.rows[0]!.scanned_at.toISOString()).toBe(at(5 * 60_000));
    const refused = await upload(cleanJuiceShop(at(5 * 60_000 + 1000), { renamed: "registry.example.com/skew:2" }), { digest: fakeDigest("skew-refused") });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe("scanned_in_future");
  });
});

describe("when reports naming the same tag arrive one after the other", () => {
  test("then the tag names the digest of the report received last, whatever scan times they claim", async () => {
    expect((await tagLookup()).body.image_digest).toBe(JUICE);
    // A report that claims a later scan than juice-shop's (2024) but a minute ago, for another digest: the tag moves.
    later(60_000);
    const moved = fakeDigest("moved");
    expect((await upload(cleanJuiceShop(new Date(now.getTime() - 60_000).toISOString()), { image: `${TAG}@${moved}` })).status).toBe(201);
    expect((await tagLookup()).body).toMatchObject({ image_digest: moved, is_compliant: true });
    // The juice-shop bytes received again: a newer receipt, so the tag names the scanned juice-shop digest again.
    later(60_000);
    expect((await upload(readFixture(JUICE_SHOP))).body.duplicate).toBe(true);
    expect((await tagLookup()).body).toMatchObject({ image_digest: JUICE, is_compliant: false, status: "non_compliant" });
    // A report received later that claims an older scan (2020) than juice-shop's still names the tag now.
    later(60_000);
    const rebuilt = fakeDigest("rebuilt-from-old-scan");
    expect((await upload(cleanJuiceShop("2020-01-01T00:00:00Z"), { image: `${TAG}@${rebuilt}` })).status).toBe(201);
    expect((await tagLookup()).body.image_digest).toBe(rebuilt);
  });
});

describe("when a database holds reports stored before the refusal with a scan time in the future", () => {
  test("then the migration takes them as scanned when received and has their images re-evaluated", async () => {
    const all = readMigrations();
    const mine = "20261201120000_report_image_received_at";
    const empty = await createEmptyDatabase();
    const db = empty.open();
    try {
      await migrate(db.pool, all.filter((m) => m.name < mine));
      const { rows } = await db.pool.query<{ id: string }>(
        `INSERT INTO scan_reports (received_at, scanned_at, format, scanner, report_sha256)
         VALUES ('2026-05-01T00:00:00Z', '9999-12-31T23:59:59Z', 'trivy', 'Trivy', 'x'), ('2026-05-02T00:00:00Z', '2026-05-02T00:04:00Z', 'trivy', 'Trivy', 'y')
         RETURNING id`,
      );
      const [future, fine] = rows.map((r) => r.id);
      await db.pool.query(
        `INSERT INTO scan_report_images (report_id, image_digest, repository, tags) VALUES ($1, $3, 'docker.io/bkimminich/juice-shop', '{v10.2.0}'), ($2, $4, 'docker.io/a/b', '{}')`,
        [future, fine, fakeDigest("m1"), fakeDigest("m2")],
      );
      await db.pool.query(
        `INSERT INTO image_scans (image_digest, latest_report_id, scanned_at, is_compliant, status, policy_version)
         VALUES ($1, $2, '9999-12-31T23:59:59Z', true, 'compliant', 1), ($3, $4, '2026-05-02T00:04:00Z', true, 'compliant', 1)`,
        [fakeDigest("m1"), future, fakeDigest("m2"), fine],
      );
      expect(await migrate(db.pool)).toEqual(all.filter((m) => m.name >= mine).map((m) => m.name));
      const reports = await db.pool.query<{ id: string; scanned_at: Date }>("SELECT id, scanned_at FROM scan_reports");
      const scannedAt = Object.fromEntries(reports.rows.map((r) => [r.id, r.scanned_at.toISOString()]));
      expect(scannedAt).toEqual({ [future!]: "2026-05-01T00:00:00.000Z", [fine!]: "2026-05-02T00:04:00.000Z" });
      const images = await db.pool.query<{ image_digest: string; scanned_at: Date; valid_until: Date | null }>(
        "SELECT image_digest, scanned_at, valid_until FROM image_scans ORDER BY image_digest",
      );
      const byDigest = Object.fromEntries(images.rows.map((r) => [r.image_digest, r]));
      expect(byDigest[fakeDigest("m1")]!.scanned_at.toISOString()).toBe("2026-05-01T00:00:00.000Z");
      expect(byDigest[fakeDigest("m1")]!.valid_until).not.toBeNull();
      expect(byDigest[fakeDigest("m2")]!.valid_until).toBeNull();
      const links = await db.pool.query<{ received_at: Date }>("SELECT received_at FROM scan_report_images WHERE report_id = $1", [future]);
      expect(links.rows[0]!.received_at.toISOString()).toBe("2026-05-01T00:00:00.000Z");
    } finally {
      await db.close();
      await empty.drop();
    }
  });
});
