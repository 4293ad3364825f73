/**
 * /v1/notifications destinations, rules and deliveries through the real service: who may do what, write-only
 * secrets, refusals that write nothing, the test send to a real receiver, and the deliveries list's pagination.
 */
import fc from "fast-check";
import { startReceiver, verifySignature, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { createDestination, PRIVATE_OK } from "./support";

let app: TestApp;
let receiver: Receiver;
let policyWriter: string;
let reader: string;
const SECRET = "s3cret-signing-key-0123456789";

beforeAll(async () => {
  receiver = await startReceiver();
  app = await startTestApp({ env: PRIVATE_OK });
  policyWriter = await app.token("policy:write");
  reader = await app.token("compliance:read");
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe("destinations", () => {
  test("when an admin creates a webhook destination with a secret, then the answer and every list omit the secret, saying only that it is signed", async () => {
    const res = await app.http
      .post("/v1/notifications/destinations")
      .set(auth(app.adminToken))
      .send({ name: "security", type: "webhook", url: `${receiver.url}/hook`, secret: SECRET });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/notifications/destinations/${res.body.id}`);
    expect(res.body).toMatchObject({ name: "security", type: "webhook", url: `${receiver.url}/hook`, has_secret: true, created_by: "admin (ADMIN_TOKEN)" });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const list = await app.http.get("/v1/notifications/destinations").set(auth(app.adminToken)).expect(200);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    expect(list.body.items.map((d: any) => d.name)).toContain("security");
    const stored = await app.database.db.pool.query("SELECT secret FROM notification_destinations WHERE id = $1", [res.body.id]);
    expect(stored.rows[0].secret).toBe(SECRET);
  });

  test("when the name is taken, then 409 and nothing is written", async () => {
    await createDestination(app, { name: "taken", type: "slack", url: `${receiver.url}/slack` });
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/notifications/destinations").set(auth(app.adminToken)).send({ name: "taken", type: "webhook", url: `${receiver.url}/x` });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("destination_name_taken");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test.each([
    ["a file URL", { name: "a", type: "webhook", url: "file:///etc/passwd" }, "body.url"],
    ["a gopher URL", { name: "a", type: "webhook", url: "gopher://example.com/" }, "body.url"],
    ["no URL", { name: "a", type: "webhook" }, "body.url"],
    ["credentials in the URL", { name: "a", type: "webhook", url: "https://user:pw@example.com/" }, "body.url"],
    ["the metadata address", { name: "a", type: "webhook", url: "http://169.254.169.254/latest/meta-data/" }, "body.url"],
    ["the IPv6 metadata address", { name: "a", type: "webhook", url: "http://[fd00:ec2::254]/" }, "body.url"],
    ["an unknown type", { name: "a", type: "email", url: "https://example.com/" }, "body.type"],
    ["a short secret", { name: "a", type: "webhook", url: "https://example.com/", secret: "short" }, "body.secret"],
    ["a secret for Slack", { name: "a", type: "slack", url: "https://hooks.slack.com/services/T/B/X", secret: SECRET }, "body.secret"],
    ["an unknown field", { name: "a", type: "webhook", url: "https://example.com/", headers: {} }, "body"],
    ["an empty name", { name: " ", type: "webhook", url: "https://example.com/" }, "body.name"],
  ])("when the body has %s, then 422 names the field and nothing is written", async (_what, body, path) => {
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/notifications/destinations").set(auth(app.adminToken)).send(body);
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when the body is not JSON, then 400 and nothing is written", async () => {
    const res = await app.http.post("/v1/notifications/destinations").set({ ...auth(app.adminToken), "Content-Type": "application/json" }).send("{nope");
    expect(res.status).toBe(400);
  });

  test("when a policy:write or read-only token manages destinations, then 403 (destinations are admin only)", async () => {
    for (const token of [policyWriter, reader]) {
      await app.http.get("/v1/notifications/destinations").set(auth(token)).expect(403);
      await app.http.post("/v1/notifications/destinations").set(auth(token)).send({ name: "x", type: "webhook", url: "https://example.com/" }).expect(403);
    }
  });

  test("when a destination is tested, then the receiver gets a signed test message and the attempt is recorded", async () => {
    const d = await createDestination(app, { name: "tested", type: "webhook", url: `${receiver.url}/tested`, secret: SECRET });
    const seen = receiver.requests.length;
    const res = await app.http.post(`/v1/notifications/destinations/${d.id}/test`).set(auth(app.adminToken)).expect(200);
    expect(res.body).toMatchObject({ delivered: true, response_status: 200, error: null });
    const request = receiver.requests[seen]!;
    expect(request.path).toBe("/tested");
    expect(request.headers["x-scan-registry-delivery"]).toBe(res.body.request_id);
    expect(verifySignature(request.headers["x-scan-registry-signature"] as string, request.body, SECRET)).toBe(true);
    expect(verifySignature(request.headers["x-scan-registry-signature"] as string, request.body, "another-secret-0123456789")).toBe(false);
    expect(request.json.events[0]).toMatchObject({ type: "test" });
    const attempts = await app.http.get("/v1/notifications/deliveries").query({ destination_id: d.id }).set(auth(app.adminToken)).expect(200);
    expect(attempts.body.items).toEqual([expect.objectContaining({ event_type: "test", status: "delivered", response_status: 200, attempt: 1, request_id: res.body.request_id })]);
  });

  test("when a tested receiver answers 500, then the answer says so (200 with delivered false)", async () => {
    const d = await createDestination(app, { name: "failing", type: "webhook", url: `${receiver.url}/failing` });
    receiver.script(["500"]);
    const res = await app.http.post(`/v1/notifications/destinations/${d.id}/test`).set(auth(app.adminToken)).expect(200);
    expect(res.body).toMatchObject({ delivered: false, response_status: 500 });
    expect(res.body.error).toContain("HTTP 500");
  });

  test("when a destination is deleted, then its rules go with it and a second delete is 404", async () => {
    const d = await createDestination(app, { name: "doomed", type: "cloudevents", url: `${receiver.url}/ce` });
    await app.http.post("/v1/notifications/rules").set(auth(app.adminToken)).send({ name: "doomed-rule", destination_id: d.id, events: ["verdict.changed"] }).expect(201);
    await app.http.delete(`/v1/notifications/destinations/${d.id}`).set(auth(app.adminToken)).expect(200);
    const rules = await app.http.get("/v1/notifications/rules").set(auth(app.adminToken)).expect(200);
    expect(rules.body.items.map((r: any) => r.destination_id)).not.toContain(d.id);
    await app.http.delete(`/v1/notifications/destinations/${d.id}`).set(auth(app.adminToken)).expect(404);
    await app.http.delete("/v1/notifications/destinations/not-a-uuid").set(auth(app.adminToken)).expect(404);
    await app.http.post("/v1/notifications/destinations/00000000-0000-4000-8000-000000000000/test").set(auth(app.adminToken)).expect(404);
  });
});

describe("rules", () => {
  let destinationId: string;
  beforeAll(async () => {
    destinationId = (await createDestination(app, { name: "rules-target", type: "slack", url: `${receiver.url}/slack-rules` })).id;
  });

  test("when a policy:write token creates a rule, then 201 with the destination's name, and it is listed and deletable", async () => {
    const res = await app.http
      .post("/v1/notifications/rules")
      .set(auth(policyWriter))
      .send({ name: "prod criticals", destination_id: destinationId, events: ["verdict.changed", "runtime_violation.opened", "verdict.changed"], repository: "ghcr.io/acme/**", cluster: "prod", namespace: "payments", min_severity: "CRITICAL" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "prod criticals",
      destination_id: destinationId,
      destination_name: "rules-target",
      destination_type: "slack",
      events: ["verdict.changed", "runtime_violation.opened"],
      repository: "ghcr.io/acme/**",
      cluster: "prod",
      namespace: "payments",
      min_severity: "CRITICAL",
    });
    const list = await app.http.get("/v1/notifications/rules").set(auth(policyWriter)).expect(200);
    expect(list.body.items.map((r: any) => r.id)).toContain(res.body.id);
    await app.http.delete(`/v1/notifications/rules/${res.body.id}`).set(auth(policyWriter)).expect(200);
    await app.http.delete(`/v1/notifications/rules/${res.body.id}`).set(auth(policyWriter)).expect(404);
  });

  test.each([
    ["no events", { events: [] }, "body.events"],
    ["an unknown event", { events: ["image.pushed"] }, "body.events.0"],
    ["a bad glob", { events: ["verdict.changed"], repository: "Ghcr.io//x" }, "body.repository"],
    ["a bad namespace", { events: ["verdict.changed"], namespace: "Not_A_Namespace" }, "body.namespace"],
    ["a bad severity", { events: ["verdict.changed"], min_severity: "SEVERE" }, "body.min_severity"],
    ["an unknown destination", { events: ["verdict.changed"], destination_id: "00000000-0000-4000-8000-000000000000" }, "body.destination_id"],
  ])("when a rule has %s, then 422 names the field and nothing is written", async (_what, body, path) => {
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/notifications/rules").set(auth(policyWriter)).send({ name: "bad", destination_id: destinationId, ...body });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a read-only token manages rules or reads deliveries, then 403", async () => {
    await app.http.get("/v1/notifications/rules").set(auth(reader)).expect(403);
    await app.http.post("/v1/notifications/rules").set(auth(reader)).send({ name: "x", destination_id: destinationId, events: ["verdict.changed"] }).expect(403);
    await app.http.get("/v1/notifications/deliveries").set(auth(reader)).expect(403);
  });
});

describe("deliveries list", () => {
  test("when attempts exist, then paging through them with any page size returns each exactly once, newest first", async () => {
    const destinationId = "11111111-1111-4111-8111-111111111111";
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 15 }), async (rows, pageSize) => {
        await app.database.db.pool.query("DELETE FROM notification_deliveries WHERE destination_id = $1", [destinationId]);
        await app.database.db.pool.query(
          `INSERT INTO notification_deliveries (at, event_id, event_type, destination_id, destination_type, request_id, attempt, status, response_status, error, duration_ms)
           SELECT now(), NULL, 'test', $1, 'webhook', gen_random_uuid(), g, 'delivered', 200, NULL, g FROM generate_series(1, $2) g`,
          [destinationId, rows],
        );
        const expected = (await app.database.db.pool.query("SELECT id::text AS id FROM notification_deliveries WHERE destination_id = $1 ORDER BY notification_deliveries.id DESC", [destinationId])).rows.map((r) => r.id);
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 100; page++) {
          const res: any = await app.http
            .get("/v1/notifications/deliveries")
            .query({ destination_id: destinationId, limit: String(pageSize), ...(cursor ? { cursor } : {}) })
            .set(auth(app.adminToken))
            .expect(200);
          expect(res.body.items.length).toBeLessThanOrEqual(pageSize);
          seen.push(...res.body.items.map((i: any) => i.id));
          cursor = res.body.next_cursor;
          if (!cursor) break;
        }
        expect(seen).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });

  test("when the cursor or a filter is malformed, then 400 / 422", async () => {
    await app.http.get("/v1/notifications/deliveries").query({ cursor: "garbage" }).set(auth(app.adminToken)).expect(400);
    await app.http.get("/v1/notifications/deliveries").query({ status: "lost" }).set(auth(app.adminToken)).expect(422);
    await app.http.get("/v1/notifications/deliveries").query({ limit: "0" }).set(auth(app.adminToken)).expect(422);
    await app.http.get("/v1/notifications/deliveries").query({ destination_id: "x" }).set(auth(app.adminToken)).expect(422);
  });
});
