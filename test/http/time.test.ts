import { lockPolicyExclusively } from "../../src/db/queryable";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { ALPINE, bearer, putPolicy, SECRETS, verdict } from "./policy-support";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.parse("2026-06-01T12:00:00.000Z");
let now = new Date(START);
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ clock: () => now });
});
afterAll(async () => app.close());

const admin = () => bearer(app.adminToken);

/** One upload keyed by two digests: one that lookups will ask about, one that only SQL readers see. */
async function uploadTwice(name: string, seed: string): Promise<[string, string]> {
  const asked = fakeDigest(`${seed}:asked`);
  const unasked = fakeDigest(`${seed}:unasked`);
  const res = await app.http
    .post(`/v1/reports?digest=${asked}&digest=${unasked}&image=registry.example.com/${seed}/app:1`)
    .set({ ...admin(), "Content-Type": "application/json" })
    .send(readFixture(name).toString("utf8"));
  expect(res.status).toBe(201);
  return [asked, unasked];
}

const lookup = async (digest: string) => (await app.http.get(`/v1/images/${digest}/compliance`).set(admin())).body;

describe("when an exception with an expiry is granted", () => {
  test("then it flips the image to compliant; once the expiry passes the lookup refuses at once, and the sweep brings image_scans up to date", async () => {
    const [asked, unasked] = await uploadTwice(SECRETS, "secrets");
    expect(await lookup(asked)).toMatchObject({ is_compliant: false, status: "non_compliant" });

    const expiresAt = new Date(now.getTime() + HOUR);
    const granted = await app.http
      .post("/v1/exceptions")
      .set(admin())
      .send({ vulnerability_id: "github-pat", repository: "registry.example.com/secrets/*", reason: "rotating the token", expires_at: expiresAt.toISOString() });
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({ expires_at: expiresAt.toISOString(), state: "active", reevaluated: 2, changed: 2 });
    expect(await lookup(asked)).toMatchObject({ is_compliant: true, status: "compliant" });
    const { rows } = await app.database.db.pool.query("SELECT valid_until FROM image_scans WHERE image_digest = ANY($1)", [[asked, unasked]]);
    expect(rows.map((r) => r.valid_until.toISOString())).toEqual([expiresAt.toISOString(), expiresAt.toISOString()]);

    now = new Date(expiresAt.getTime() - 1);
    expect(await lookup(asked)).toMatchObject({ is_compliant: true });
    expect(await app.service.sweeper.sweep()).toBe(0);

    now = new Date(expiresAt.getTime());
    const refused = await lookup(asked);
    expect(refused).toMatchObject({ is_compliant: false, status: "non_compliant" });
    expect(refused.reasons[0]).toMatchObject({ code: "secret_found", ids: ["github-pat"] });
    expect(await verdict(app, asked)).toMatchObject({ is_compliant: false });

    // The image nobody asked about still shows the old verdict to SQL readers until the sweep …
    expect(await verdict(app, unasked)).toMatchObject({ is_compliant: true });
    // … while a dry-run of the policy in force compares with what a lookup would answer now: nothing changes.
    const dryRun = await app.http.post("/v1/policy/dry-run").set(admin()).send((await app.http.get("/v1/policy").set(admin())).body);
    expect(dryRun.body).toMatchObject({ changed: 0, changes: [] });
    expect(await app.service.sweeper.sweep()).toBe(1);
    expect(await verdict(app, unasked)).toMatchObject({ is_compliant: false, status: "non_compliant" });

    const active = (await app.http.get("/v1/exceptions").set(admin())).body.items;
    expect(active.some((e: { id: string }) => e.id === granted.body.id)).toBe(false);
    const expired = (await app.http.get("/v1/exceptions?state=expired").set(admin())).body.items;
    expect(expired.map((e: { id: string }) => e.id)).toContain(granted.body.id);
  });
});

describe("when a verdict runs out while a policy change holds the policy lock", () => {
  test("then the lookup answers at once under the policy in force, without waiting for the change or storing", async () => {
    const asked = fakeDigest("locked:asked");
    const body = { ...readFixtureJson(SECRETS), CreatedAt: new Date(START - DAY).toISOString() }; // other bytes than the upload above
    const uploaded = await app.http
      .post(`/v1/reports?digest=${asked}&image=registry.example.com/locked/app:1`)
      .set({ ...admin(), "Content-Type": "application/json" })
      .send(JSON.stringify(body));
    expect(uploaded.status).toBe(201);
    const expiresAt = new Date(now.getTime() + HOUR);
    const granted = await app.http
      .post("/v1/exceptions")
      .set(admin())
      .send({ vulnerability_id: "github-pat", repository: "registry.example.com/locked/*", reason: "rotating", expires_at: expiresAt.toISOString() });
    expect(granted.status).toBe(201);
    expect(await lookup(asked)).toMatchObject({ is_compliant: true });

    // A policy writer's lock, held on its own connection for the whole lookup (as PUT /v1/policy holds it while it
    // re-evaluates every image).
    const writer = await app.database.db.pool.connect();
    try {
      await writer.query("BEGIN");
      await lockPolicyExclusively(writer);
      now = new Date(expiresAt.getTime());
      const missesBefore = app.service.deps.verdictCache.misses;
      const answers = await Promise.all([lookup(asked), lookup(asked), lookup(asked)]);
      expect(app.service.deps.verdictCache.misses - missesBefore).toBe(1); // the three lookups shared one load
      for (const answer of answers) expect(answer).toMatchObject({ is_compliant: false, status: "non_compliant" });
      expect(answers).toHaveLength(3);
      // Not stored: the policy change in progress rewrites every verdict itself; until then SQL readers see the old row.
      expect(await verdict(app, asked)).toMatchObject({ is_compliant: true });
    } finally {
      await writer.query("ROLLBACK");
      writer.release();
    }
    expect(await app.service.sweeper.sweep()).toBeGreaterThanOrEqual(1);
    expect(await verdict(app, asked)).toMatchObject({ is_compliant: false, status: "non_compliant" });
  });
});

describe("when max_scan_age_days is set", () => {
  test("then a scan turns stale the moment it reaches the age: the lookup says stale at once, and the sweep updates image_scans", async () => {
    const [asked, unasked] = await uploadTwice(ALPINE, "alpine");
    const scannedAt = Date.parse(readFixtureJson(ALPINE).CreatedAt);
    const ageDays = Math.ceil((now.getTime() - scannedAt) / DAY) + 1;
    const staleAt = scannedAt + ageDays * DAY;
    const put = await putPolicy(app, { max_scan_age_days: ageDays });
    expect(put.status).toBe(200);
    expect(await lookup(asked)).toMatchObject({ is_compliant: true, status: "compliant" });
    expect(await verdict(app, unasked)).toMatchObject({ is_compliant: true, status: "compliant" });

    now = new Date(staleAt - 1);
    expect(await lookup(asked)).toMatchObject({ is_compliant: true });

    now = new Date(staleAt);
    const stale = await lookup(asked);
    expect(stale).toMatchObject({ is_compliant: false, status: "stale" });
    expect(stale.reasons[0]).toMatchObject({ code: "stale_scan", max_age_days: ageDays });
    expect(await verdict(app, unasked)).toMatchObject({ status: "compliant" });
    expect(await app.service.sweeper.sweep()).toBeGreaterThanOrEqual(1);
    expect(await verdict(app, unasked)).toMatchObject({ is_compliant: false, status: "stale" });

    // A longer maximum age lets it run again, at once.
    const relaxed = await putPolicy(app, { max_scan_age_days: ageDays + 1 });
    expect(relaxed.body.changed).toBeGreaterThanOrEqual(2);
    expect(await lookup(asked)).toMatchObject({ is_compliant: true, status: "compliant" });
  });
});
