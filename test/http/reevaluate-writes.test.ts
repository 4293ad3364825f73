import { Client, type Notification } from "pg";
import { VERDICT_CHANNEL } from "../../src/db/change-channels";
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { ALPINE, bearer, CENTOS_7, JUICE_SHOP, putPolicy, SECRETS, uploadFixture } from "./policy-support";

/**
 * Re-evaluation rewrites only the image_scans rows whose verdict changes: an unchanged row keeps its tuple (same
 * xmin), and the change notification names only the rewritten digests.
 */

let app: TestApp;
let listener: Client;
const heard: string[] = [];
let digests: string[];
const sharedA = fakeDigest("reeval-shared-a");
const sharedB = fakeDigest("reeval-shared-b");

beforeAll(async () => {
  app = await startTestApp();
  digests = [
    await uploadFixture(app, JUICE_SHOP),
    await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" }),
    await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" }),
    await uploadFixture(app, ALPINE, { image: "docker.io/library/alpine:3.10" }),
  ];
  // One report, two digests: they share an evaluation input.
  const res = await app.http
    .post(`/v1/reports?digest=${sharedA}&digest=${sharedB}&image=registry.example.com/shared/app:2`)
    .set({ ...bearer(app.adminToken), "Content-Type": "application/json" })
    .send(`${readFixture(SECRETS).toString("utf8")}\n`); // other bytes than the upload above: a report of its own
  expect(res.status).toBe(201);
  digests.push(sharedA, sharedB);
  listener = new Client({ connectionString: app.database.url });
  await listener.connect();
  listener.on("notification", (n: Notification) => {
    if (n.channel === VERDICT_CHANNEL && n.payload) heard.push(...n.payload.split(","));
  });
  await listener.query(`LISTEN ${VERDICT_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await app.close();
});

interface StoredRow {
  image_digest: string;
  xmin: string;
  verdict: string;
}

async function rows(): Promise<Map<string, StoredRow>> {
  const { rows } = await app.database.db.pool.query<StoredRow>(
    `SELECT image_digest, xmin::text AS xmin,
            jsonb_build_array(is_compliant, status, reasons, valid_until)::text AS verdict
     FROM image_scans WHERE image_digest = ANY($1)`,
    [digests],
  );
  return new Map(rows.map((r) => [r.image_digest, r]));
}

/** Runs `change` and reports which rows changed verdict, which were rewritten, and which digests NOTIFY named. */
async function observe(change: () => Promise<unknown>) {
  const before = await rows();
  heard.length = 0;
  await change();
  await listener.query("SELECT 1"); // notifications committed before this query arrive before its answer
  const after = await rows();
  const verdictChanged = digests.filter((d) => before.get(d)!.verdict !== after.get(d)!.verdict).sort();
  const rewritten = digests.filter((d) => before.get(d)!.xmin !== after.get(d)!.xmin).sort();
  return { verdictChanged, rewritten, notified: [...new Set(heard)].sort() };
}

describe("when a policy change turns some verdicts and not others", () => {
  test("then only the rows whose verdict changed are rewritten, and NOTIFY names exactly those digests", async () => {
    // Secrets stop counting: the three images with the secrets report turn compliant; the others keep their verdicts.
    const { verdictChanged, rewritten, notified } = await observe(async () => {
      const res = await putPolicy(app, { block_secrets: false });
      expect(res.status).toBe(200);
      expect(res.body.reevaluated).toBe(digests.length);
    });
    expect(verdictChanged.length).toBeGreaterThan(0);
    expect(verdictChanged.length).toBeLessThan(digests.length);
    expect(verdictChanged).toEqual(expect.arrayContaining([digests[2], sharedA, sharedB].sort()));
    expect(rewritten).toEqual(verdictChanged);
    expect(notified).toEqual(verdictChanged);
  });

  test("then a PUT of the same rules rewrites nothing and names no digest, while every answer names the new version", async () => {
    const { verdictChanged, rewritten, notified } = await observe(async () => {
      const res = await putPolicy(app, { block_secrets: false });
      expect(res.body).toMatchObject({ reevaluated: digests.length, changed: 0 });
    });
    expect([verdictChanged, rewritten, notified]).toEqual([[], [], []]);
    const version = (await app.http.get("/v1/policy").set(bearer(app.adminToken))).body.version;
    for (const digest of digests) {
      const answer = (await app.http.get(`/v1/images/${digest}/compliance`).set(bearer(app.adminToken))).body;
      expect(answer.policy_version).toBe(version);
    }
  });

  test("then a change that only rewrites a reason's text (a new limit) rewrites those rows even though is_compliant stays", async () => {
    const juice = digests[0]!;
    await putPolicy(app, { max_severity_counts: { CRITICAL: 0 }, block_secrets: false });
    const { verdictChanged, rewritten, notified } = await observe(() => putPolicy(app, { max_severity_counts: { CRITICAL: 1 }, block_secrets: false }));
    expect(verdictChanged).toContain(juice); // juice-shop stays non-compliant; its reason now says "limit 1"
    expect(rewritten).toEqual(verdictChanged);
    expect(notified).toEqual(verdictChanged);
  });
});

describe("when compliant images stay compliant", () => {
  // Re-evaluation does not send a verdict it knows is stored as it is (compliant, no reasons, same validity): a change
  // of validity alone must still be written.
  const allowEverything = { max_severity_counts: {}, block_secrets: false, block_misconfiguration_severities: [] };
  const put = async (rules: object) => expect((await putPolicy(app, rules)).status).toBe(200);
  test("then a maximum scan age added or removed rewrites each one (its validity changes) and nothing else", async () => {
    await put(allowEverything);
    const compliant = async () => (await app.database.db.pool.query<{ image_digest: string }>(
      "SELECT image_digest FROM image_scans WHERE image_digest = ANY($1) AND status = 'compliant' ORDER BY image_digest", [digests])).rows.map((r) => r.image_digest);
    const all = await compliant();
    expect(all).toEqual([...digests].sort());
    const added = await observe(() => put({ ...allowEverything, max_scan_age_days: 3650 }));
    expect(await compliant()).toEqual(all);
    expect(added.verdictChanged).toEqual(all);
    expect(added.rewritten).toEqual(all);
    const same = await observe(() => put({ ...allowEverything, max_scan_age_days: 3650 }));
    expect([same.verdictChanged, same.rewritten]).toEqual([[], []]);
    const removed = await observe(() => put(allowEverything));
    expect(removed.verdictChanged).toEqual(all);
    expect(removed.rewritten).toEqual(all);
    const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM image_scans WHERE image_digest = ANY($1) AND valid_until IS NOT NULL", [digests]);
    expect(rows[0].n).toBe(0);
  });
});

describe("when images share a report", () => {
  test("then an exception naming one digest still gives each its own verdict, through a change and a full re-evaluation", async () => {
    await putPolicy(app, { block_secrets: true });
    const grant = await app.http
      .post("/v1/exceptions")
      .set(bearer(app.adminToken))
      .send({ vulnerability_id: "github-pat", image_digest: sharedA, reason: "rotated" });
    expect(grant.status).toBe(201);
    const look = async (d: string) => (await app.http.get(`/v1/images/${d}/compliance`).set(bearer(app.adminToken))).body.is_compliant;
    expect([await look(sharedA), await look(sharedB)]).toEqual([true, false]);
    const { rewritten } = await observe(() => putPolicy(app, { block_secrets: true, max_severity_counts: { CRITICAL: 0 } }));
    expect(rewritten).not.toContain(sharedA);
    expect([await look(sharedA), await look(sharedB)]).toEqual([true, false]);
    const again = await app.http.post("/v1/reevaluate").set(bearer(app.adminToken));
    expect(again.status).toBe(200);
    expect([await look(sharedA), await look(sharedB)]).toEqual([true, false]);
  });
});
