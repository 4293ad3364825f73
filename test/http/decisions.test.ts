import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { ALPINE, bearer, JUICE_SHOP, uploadFixture } from "./policy-support";

const DAY = 86_400_000;
let now = new Date("2026-03-01T10:00:00.000Z");
let app: TestApp;
let alpine: string;
let juice: string;
let kyverno: string;
let ci: string;

beforeAll(async () => {
  app = await startTestApp({ clock: () => now, env: { DECISION_LOG_RETENTION_DAYS: "30" } });
  alpine = await uploadFixture(app, ALPINE, { image: "alpine:3.10" });
  juice = await uploadFixture(app, JUICE_SHOP);
  kyverno = await app.token("compliance:read");
  ci = await app.token("reports:write", "compliance:read");
  // Five lookups, one minute apart: two by Kyverno in prod, one batch of two in staging by CI, one unknown digest.
  const at = (minutes: number) => (now = new Date(Date.parse("2026-03-01T10:00:00.000Z") + minutes * 60_000));
  at(1);
  await app.http.get(`/v1/images/${alpine}/compliance`).query({ namespace: "prod", image: "alpine:3.10" }).set(bearer(kyverno)).expect(200);
  at(2);
  await app.http.get(`/v1/images/${juice}/compliance`).query({ namespace: "prod" }).set(bearer(kyverno)).expect(200);
  at(3);
  await app.http
    .post("/v1/compliance/check")
    .set(bearer(ci))
    .send({ images: [`docker.io/library/alpine@${alpine}`, `bkimminich/juice-shop@${juice}`], namespace: "staging" })
    .expect(200);
  at(4);
  await app.http.get(`/v1/images/${fakeDigest("unknown")}/compliance`).set(bearer(kyverno)).expect(200);
  await app.flushDecisions();
});
afterAll(async () => app.close());

const list = (query: Record<string, string | number> = {}) => app.http.get("/v1/decisions").query(query).set(bearer(kyverno));

describe("when lookups have been answered", () => {
  test("then each is a decision row, newest first, with the token that asked, the namespace and the verdict", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    const items = res.body.items as Array<Record<string, any>>;
    expect(items).toHaveLength(5);
    expect(items[0]).toMatchObject({ image_digest: fakeDigest("unknown"), is_compliant: false, status: "not_scanned", token_name: "test-compliance:read" });
    expect(items[4]).toMatchObject({
      decided_at: "2026-03-01T10:01:00.000Z",
      image_digest: alpine,
      image_ref: "alpine:3.10",
      namespace: "prod",
      is_compliant: true,
      status: "compliant",
      policy_version: 1,
      token_name: "test-compliance:read",
    });
    expect(items[4]!.token_id).toMatch(/^[0-9a-f-]{36}$/);
    const staging = items.filter((d) => d.namespace === "staging");
    expect(staging.map((d) => d.token_name)).toEqual(["test-reports:write+compliance:read", "test-reports:write+compliance:read"]);
    const decidedAt = items.map((d) => Date.parse(d.decided_at));
    expect(decidedAt).toEqual([...decidedAt].sort((a, b) => b - a));
  });

  test("then image_digest, is_compliant, namespace, since and until filter", async () => {
    const byDigest = (await list({ image_digest: juice })).body.items;
    expect(byDigest).toHaveLength(2);
    expect(byDigest.every((d: { image_digest: string; is_compliant: boolean }) => d.image_digest === juice && !d.is_compliant)).toBe(true);
    const refused = (await list({ is_compliant: "false" })).body.items;
    expect(refused.map((d: { status: string }) => d.status).sort()).toEqual(["non_compliant", "non_compliant", "not_scanned"]);
    expect((await list({ is_compliant: "true" })).body.items).toHaveLength(2);
    expect((await list({ namespace: "staging" })).body.items).toHaveLength(2);
    const window = (await list({ since: "2026-03-01T10:02:00Z", until: "2026-03-01T10:04:00Z" })).body.items;
    expect(window.map((d: { decided_at: string }) => d.decided_at)).toEqual([
      "2026-03-01T10:03:00.000Z",
      "2026-03-01T10:03:00.000Z",
      "2026-03-01T10:02:00.000Z",
    ]);
  });

  test("then cursor pagination walks every row once, newest first", async () => {
    const all = (await list()).body.items.map((d: { id: string }) => d.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((d: { id: string }) => d.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  test("then bad filters are refused: 422 with paths, 400 for a cursor this service did not issue", async () => {
    for (const [query, path] of [
      [{ limit: 501 }, "query.limit"],
      [{ is_compliant: "maybe" }, "query.is_compliant"],
      [{ since: "yesterday" }, "query.since"],
      [{ image_digest: "sha256:abc" }, "query.image_digest"],
      [{ colour: "red" }, "query"],
    ] as const) {
      const res = await list(query);
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const bad = await list({ cursor: "bm90LWEtY3Vyc29y" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("invalid_cursor");
    expect((await app.http.get("/v1/decisions")).status).toBe(401);
  });

  test("then rows older than DECISION_LOG_RETENTION_DAYS are pruned and newer ones kept", async () => {
    now = new Date(Date.parse("2026-03-01T10:02:30.000Z") + 30 * DAY);
    const pruned = await app.service.deps.decisionLog.prune(app.service.deps.config.decisionLogRetentionDays, now);
    expect(pruned).toBe(2);
    const left = (await list()).body.items.map((d: { decided_at: string }) => d.decided_at);
    expect(left).toEqual(["2026-03-01T10:04:00.000Z", "2026-03-01T10:03:00.000Z", "2026-03-01T10:03:00.000Z"]);
  });
});
