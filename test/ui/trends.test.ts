/**
 * Trends (issue 18 item 3): the daily snapshot is taken at start when today's is missing, once per day across
 * replicas, with the fleet's figures; the overview's charts read well with no snapshot, one day and many days.
 */
import { takeDailySnapshot } from "../../src/db/snapshot-repository";
import { DailySnapshotTaker } from "../../src/reading/daily-snapshots";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

const NOW = new Date("2026-12-02T10:00:00Z");
let app: TestApp;
let browser: BrowserSession;
const pool = () => app.database.db.pool;
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  app = await startTestApp({ clock: () => NOW });
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

async function todays(): Promise<number> {
  const { rows } = await pool().query("SELECT count(*)::int AS n FROM daily_snapshots WHERE day = '2026-12-02'");
  return rows[0].n;
}

test("when the service starts without today's snapshot, then it takes it", async () => {
  // startService does not wait for the start's run: read (never take) until it has written, a bounded number of times.
  for (let i = 0; i < 200 && (await todays()) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(await todays()).toBe(1);
});

test("when several replicas take the day's snapshot at once, then exactly one row is written with the fleet's figures", async () => {
  await pool().query("DELETE FROM daily_snapshots");
  await pool().query(
    `INSERT INTO image_scans (image_digest, repository, tags, is_compliant, status, policy_version, critical_count, high_count, low_count, secret_count, first_seen_at)
     VALUES ($1, 'r/a', '{}', false, 'non_compliant', 1, 2, 3, 1, 1, now()), ($2, 'r/b', '{}', true, 'compliant', 1, 0, 1, 0, 0, now()),
            ($3, 'r/c', '{}', false, 'stale', 1, 0, 0, 4, 0, now())`,
    [fakeDigest("trend-a"), fakeDigest("trend-b"), fakeDigest("trend-c")],
  );
  const replicas = Array.from({ length: 4 }, () => new DailySnapshotTaker(pool(), () => NOW, quiet));
  const results = await Promise.all([...replicas.map((r) => r.run()), takeDailySnapshot(pool(), NOW), takeDailySnapshot(pool(), NOW)]);
  expect(results.filter(Boolean)).toHaveLength(1);
  const { rows } = await pool().query("SELECT * FROM daily_snapshots");
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ images: 3, compliant: 1, non_compliant: 1, stale: 1, not_scanned: 0, critical: "2", high: "4", low: "5", secrets: "1", open_violations: 0 });
  expect(rows[0].taken_at.toISOString()).toBe(NOW.toISOString());
  // Later the same day: nothing more is written.
  expect(await takeDailySnapshot(pool(), new Date("2026-12-02T23:59:00Z"))).toBe(false);
  expect(await todays()).toBe(1);
});

const section = (page: string) => page.slice(page.indexOf('id="trends-h"'), page.indexOf("</section>", page.indexOf('id="trends-h"')));

test("when there is no snapshot, one day, or many days, then the overview's trend charts say so, draw dots, or draw lines", async () => {
  await pool().query("DELETE FROM daily_snapshots");
  const none = section((await browser.get("/ui/")).text);
  expect(none).toContain("No snapshot yet in these 30 days");
  expect(none).toContain("last 30 days: no snapshot yet");
  expect(none).not.toContain("<polyline");

  await takeDailySnapshot(pool(), NOW);
  const one = section((await browser.get("/ui/")).text);
  expect(one).not.toContain("No snapshot yet");
  expect(one).toContain("1 day with a snapshot; latest (2026-12-02): Non-compliant 1, Compliant 1, Stale 1");
  expect(one).toMatch(/<circle class="fill-denied" cx="[\d.]+" cy="[\d.]+" r="3"><title>2026-12-02: 1 non-compliant<\/title><\/circle>/);
  expect(one).not.toContain("<polyline");

  // 80 earlier days with a gap of 3 days: lines, broken at the gap; 30 days show only the window's snapshots.
  await pool().query(
    `INSERT INTO daily_snapshots (day, taken_at, images, compliant, non_compliant, stale, not_scanned, critical, high, medium, low, unknown, secrets, misconfigurations, open_violations)
     SELECT d::date, d, 10, 5 + g % 3, 5 - g % 3, 0, 0, g, 2 * g, 0, 0, 0, 0, 0, g % 4
     FROM generate_series(1, 80) AS g, LATERAL (SELECT timestamptz '2026-12-02' - make_interval(days => g) AS d) x
     WHERE g NOT IN (10, 11, 12)`,
  );
  const month = section((await browser.get("/ui/")).text);
  expect(month).toContain("27 days with a snapshot");
  expect(month).toContain(`<strong aria-current="true">30 days</strong>`);
  expect(month).toContain(`href="/ui/?trend=90#trends-h"`);
  const verdictChart = month.slice(0, month.indexOf("Vulnerabilities by severity</h3>"));
  expect((verdictChart.match(/<polyline class="trend-line stroke-denied"/g) ?? []).length).toBe(2); // broken by the 3-day gap
  const quarter = section((await browser.get("/ui/?trend=90")).text);
  expect(quarter).toContain("78 days with a snapshot");
  expect(quarter).toContain(`<strong aria-current="true">90 days</strong>`);
  expect(quarter).toContain("<th scope=\"row\">2026-09-13</th>");
  // Unknown windows fall back to 30 days.
  expect(section((await browser.get("/ui/?trend=7")).text)).toContain("27 days with a snapshot");
});
