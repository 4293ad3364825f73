import { startTestApp, type TestApp } from "../support/test-app";

/**
 * Issue 17 item 14: an unknown value of an enumerated filter is 422 problem+json naming the values it may take, on
 * every list route; answering the unfiltered list (or a 400 that reads like a malformed request) is what it replaced.
 */
let app: TestApp;
const digest = `sha256:${"a".repeat(64)}`;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());
const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

const FILTERS: Array<[route: string, filter: string, valid: string]> = [
  ["/v1/images", "status", "non_compliant"],
  [`/v1/images/${digest}/findings`, "severity", "CRITICAL"],
  [`/v1/images/${digest}/findings`, "kind", "secret"],
  [`/v1/images/${digest}/findings`, "fixable", "true"],
  ["/v1/incidents", "status", "open"],
  ["/v1/incidents", "severity", "HIGH"],
  ["/v1/decisions", "is_compliant", "false"],
  ["/v1/exceptions", "state", "expired"],
  ["/v1/notifications/deliveries", "status", "failed"],
  ["/v1/notifications/deliveries", "event_type", "verdict.changed"],
  ["/v1/workloads", "status", "compliant"],
  ["/v1/violations", "state", "resolved"],
];

describe.each(FILTERS)("GET %s ?%s=", (route, filter, valid) => {
  test(`when ?${filter}= names an unknown value, then 422 problem+json at query.${filter}, and a known value answers 200`, async () => {
    const res = await app.http.get(route).query({ [filter]: "bogus" }).set(auth());
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: `query.${filter}`, message: expect.stringMatching(/./) })]);
    expect(res.body.code).toBe("invalid_filter");
    expect(res.body.errors[0].message).toContain(valid);
    // One unknown value among known ones is refused too.
    const mixed = await app.http.get(`${route}?${filter}=${encodeURIComponent(valid)}&${filter}=bogus`).set(auth());
    expect(mixed.status).toBe(422);
    const ok = await app.http.get(route).query({ [filter]: valid }).set(auth());
    expect([200, 404]).toContain(ok.status); // 404: the findings of an image nobody uploaded
  });
});

test("when the limit or the cursor is malformed, then it stays 400 (only unknown filter values are 422)", async () => {
  expect((await app.http.get("/v1/images").query({ limit: "0" }).set(auth())).status).toBe(400);
  expect((await app.http.get("/v1/images").query({ cursor: "nope" }).set(auth())).status).toBe(400);
  expect((await app.http.get("/v1/incidents").query({ cursor: "abc" }).set(auth())).status).toBe(400);
});

test("the message names every allowed value", async () => {
  const res = await app.http.get("/v1/images").query({ status: "COMPLIANT" }).set(auth());
  expect(res.status).toBe(422);
  expect(res.body.detail).toBe("Unknown filter value: status.");
  expect(res.body.errors[0].message).toBe('unknown value "COMPLIANT"; expected one of compliant, non_compliant, not_scanned, stale');
});
