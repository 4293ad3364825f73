import { startTestApp, type TestApp } from "../support/test-app";
import { ALPINE, bearer, CENTOS_7, JUICE_SHOP, rawVulnerabilities, SECRETS, uploadFixture } from "./policy-support";

let app: TestApp;
const digests: Record<string, string> = {};

beforeAll(async () => {
  app = await startTestApp();
  digests[JUICE_SHOP] = await uploadFixture(app, JUICE_SHOP);
  digests[CENTOS_7] = await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" });
  digests[SECRETS] = await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" });
  digests[ALPINE] = await uploadFixture(app, ALPINE, { image: "alpine:3.10" });
});
afterAll(async () => app.close());

const admin = () => bearer(app.adminToken);

/** Everything a dry-run could disturb: every table's row count and every image_scans row, column by column. */
async function snapshot() {
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query("SELECT * FROM image_scans ORDER BY image_digest");
  const policy = await app.database.db.pool.query("SELECT * FROM policy_versions ORDER BY version");
  return { counts: await app.database.rowCounts(), imageScans: rows, policyVersions: policy.rows };
}

function byDigest(changes: Array<{ image_digest: string }>): Record<string, any> {
  return Object.fromEntries(changes.map((c) => [c.image_digest, c]));
}

describe("when a candidate policy is dry-run", () => {
  test("then the images whose verdict would turn non-compliant are listed from → to with reasons, and nothing is written", async () => {
    const before = await snapshot();
    const res = await app.http.post("/v1/policy/dry-run").set(admin()).send({ max_severity_counts: { CRITICAL: 0, MEDIUM: 0 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ compared_with_version: 1, evaluated: 4, truncated: false });
    expect(res.body.rules).toMatchObject({ max_severity_counts: { CRITICAL: 0, MEDIUM: 0 }, block_secrets: true, unscanned: "deny" });
    // Compliant now (no CRITICAL, no secret) and with a MEDIUM finding in the raw report: centos-7 and alpine.
    const turning = [CENTOS_7, ALPINE].filter((name) => rawVulnerabilities(name, "MEDIUM").length > 0);
    expect(turning).toHaveLength(2);
    expect(res.body.changed).toBe(turning.length);
    const changes = byDigest(res.body.changes);
    for (const name of turning) {
      const change = changes[digests[name]!];
      expect(change).toMatchObject({
        from: { is_compliant: true, status: "compliant" },
        to: { is_compliant: false, status: "non_compliant" },
      });
      expect(change.to.reasons).toEqual([
        expect.objectContaining({ code: "severity_threshold", severity: "MEDIUM", count: rawVulnerabilities(name, "MEDIUM").length, limit: 0 }),
      ]);
    }
    expect(changes[digests[ALPINE]!].repository).toBe("docker.io/library/alpine");
    expect(await snapshot()).toEqual(before);
  });

  test("then images that would be let in are listed too, and an image that stays non-compliant for another reason is not", async () => {
    const before = await snapshot();
    const res = await app.http.post("/v1/policy/dry-run").set(admin()).send({ max_severity_counts: {}, block_secrets: false });
    expect(res.status).toBe(200);
    expect(Object.keys(byDigest(res.body.changes)).sort()).toEqual([digests[JUICE_SHOP], digests[SECRETS]].sort());
    for (const change of res.body.changes)
      expect(change).toMatchObject({ from: { is_compliant: false, status: "non_compliant" }, to: { is_compliant: true, status: "compliant", reasons: [] } });

    const same = await app.http.post("/v1/policy/dry-run").set(admin()).send({});
    expect(same.body).toMatchObject({ evaluated: 4, changed: 0, changes: [] });
    expect(await snapshot()).toEqual(before);
  });

  test("then an invalid candidate is a 422 with paths, and a read-only token gets 403", async () => {
    const bad = await app.http.post("/v1/policy/dry-run").set(admin()).send({ max_severity_counts: { HIGH: -1 }, bogus: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(["body", "body.max_severity_counts.HIGH"]));
    const reader = await app.token("compliance:read");
    expect((await app.http.post("/v1/policy/dry-run").set(bearer(reader)).send({})).status).toBe(403);
    const writer = await app.token("policy:write");
    expect((await app.http.post("/v1/policy/dry-run").set(bearer(writer)).send({})).status).toBe(200);
  });
});
