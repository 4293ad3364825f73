import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { ALPINE, bearer, SECRETS, uploadFixture, verdict } from "./policy-support";

/** POST /v1/compliance/check answers every image from one read of the stored verdicts; these tests pin what it answers. */

const HOUR = 3_600_000;
let now = new Date(Date.parse("2026-06-01T12:00:00.000Z"));
let app: TestApp;
let compliant: string;
let secrets: string;
let expiring: string;
const unknown = fakeDigest("batch-unknown");

beforeAll(async () => {
  app = await startTestApp({ clock: () => now });
  compliant = await uploadFixture(app, ALPINE, { digest: fakeDigest("batch-alpine"), image: "registry.example.com/batch/alpine:3.10" });
  secrets = await uploadFixture(app, SECRETS, { digest: fakeDigest("batch-secrets"), image: "registry.example.com/batch/secrets:1" });
  expiring = await uploadFixture(app, SECRETS, { digest: fakeDigest("batch-expiring"), image: "registry.example.com/batch/expiring:1" });
});
afterAll(async () => app.close());

const admin = () => bearer(app.adminToken);
const check = (images: string[], namespace?: string) =>
  app.http.post("/v1/compliance/check").set(admin()).unset("Content-Type").send(Buffer.from(JSON.stringify({ images, namespace })));

async function decisionsSince(after: number) {
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query(
    "SELECT image_digest, image_ref, namespace, is_compliant, status FROM admission_decisions WHERE id > $1 ORDER BY id",
    [after],
  );
  return rows;
}

async function lastDecisionId(): Promise<number> {
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query("SELECT coalesce(max(id), 0)::int AS id FROM admission_decisions");
  return rows[0].id;
}

describe("when a batch mixes known, unknown, duplicate and tagged images", () => {
  test("then each image gets its own answer in the order asked, and each is recorded in the decision log in that order", async () => {
    const before = await lastDecisionId();
    const images = [
      unknown,
      `registry.example.com/batch/secrets@${secrets}`,
      compliant,
      "registry.example.com/batch/alpine:3.10", // a tag the stored report names
      unknown, // duplicates are answered each time
      "registry.example.com/batch/nobody:9", // a tag no report names
      compliant,
    ];
    const res = await check(images, "prod");
    expect(res.status).toBe(200);
    expect(res.body.allowed).toBe(false);
    expect(res.body.results.map((r: { image: string }) => r.image)).toEqual(images);
    expect(res.body.results.map((r: { image_digest: string | null; status: string }) => [r.image_digest, r.status])).toEqual([
      [unknown, "not_scanned"],
      [secrets, "non_compliant"],
      [compliant, "compliant"],
      [compliant, "compliant"],
      [unknown, "not_scanned"],
      [null, "not_scanned"],
      [compliant, "compliant"],
    ]);
    expect(res.body.results[5].reason).toMatch(/no scan report names registry\.example\.com\/batch\/nobody:9/);
    const logged = await decisionsSince(before);
    expect(logged.map((d) => [d.image_ref, d.image_digest, d.namespace])).toEqual(images.map((image, i) => [image, res.body.results[i].image_digest, "prod"]));
  });

  test("then the answers equal the single lookups' answers, whether the cache was cold or warm", async () => {
    app.service.deps.verdictCache.clear();
    const images = [compliant, secrets, unknown];
    const cold = (await check(images)).body;
    const warm = (await check(images)).body;
    expect(warm).toEqual(cold);
    for (const [i, digest] of images.entries()) {
      const single = (await app.http.get(`/v1/images/${digest}/compliance`).set(admin())).body;
      expect(cold.results[i]).toMatchObject({ image_digest: single.image_digest, is_compliant: single.is_compliant, status: single.status, reason: single.reason });
    }
  });

  test("then a warm cache answers without reading the database (no cache miss is counted)", async () => {
    const images = [compliant, secrets, unknown, compliant];
    await check(images);
    const misses = app.service.deps.verdictCache.misses;
    const res = await check(images);
    expect(res.status).toBe(200);
    expect(app.service.deps.verdictCache.misses).toBe(misses);
  });

  test("with one malformed reference among good ones, then 400 and nothing is recorded", async () => {
    const before = await lastDecisionId();
    const res = await check([compliant, "Not A Reference!!", secrets]);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_image");
    expect(await decisionsSince(before)).toEqual([]);
  });
});

describe("when a verdict in the batch has run out", () => {
  test("then it is re-evaluated and stored before it is answered, next to images whose verdict still holds", async () => {
    const expiresAt = new Date(now.getTime() + HOUR);
    const granted = await app.http
      .post("/v1/exceptions")
      .set(admin())
      .send({ vulnerability_id: "github-pat", image_digest: expiring, reason: "rotating", expires_at: expiresAt.toISOString() });
    expect(granted.status).toBe(201);
    const first = await check([expiring, secrets, compliant]);
    expect(first.body.results.map((r: { is_compliant: boolean }) => r.is_compliant)).toEqual([true, false, true]);

    now = new Date(expiresAt.getTime());
    const after = await check([compliant, expiring, expiring, secrets]);
    expect(after.body.results.map((r: { image_digest: string; is_compliant: boolean; status: string }) => [r.image_digest, r.is_compliant, r.status])).toEqual([
      [compliant, true, "compliant"],
      [expiring, false, "non_compliant"],
      [expiring, false, "non_compliant"],
      [secrets, false, "non_compliant"],
    ]);
    expect(after.body.results[1].reason).toMatch(/github-pat/);
    expect(await verdict(app, expiring)).toMatchObject({ is_compliant: false, status: "non_compliant" });
  });
});
