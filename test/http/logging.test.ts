import { createLogger } from "../../src/logger";
import { loggableUrl } from "../../src/observability/request-logging";
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/** A pino destination that keeps every line. */
function captureLogs(level: string) {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, any>);
  const requests = () => records().filter((r) => r.msg === "request");
  return { logger, lines, records, requests };
}

const digest = fakeDigest("logging-alpine");
const SECRET_QUERY = "sr_query_secret_value_9f8e7d6c5b4a";
const SECRET_COOKIE = "session_cookie_secret_1a2b3c4d";

describe("at LOG_LEVEL=info", () => {
  const logs = captureLogs("info");
  let app: TestApp;
  let readToken: string;
  beforeAll(async () => {
    app = await startTestApp({ logger: logs.logger });
    readToken = await app.token("compliance:read");
  });
  afterAll(async () => app.close());

  test("when requests carry tokens, then each is logged once as JSON with its request id, route and status, and no secret appears", async () => {
    const upload = await app.http
      .post(`/v1/reports?digest=${digest}&source=logging-test`)
      .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json", "X-Request-Id": "upload-1" })
      .send(readFixture("alpine-310.json.golden").toString());
    expect(upload.status).toBe(201);
    const read = await app.http.get(`/v1/images/${digest}`).set({ Authorization: `Bearer ${readToken}`, Cookie: `sr_session=${SECRET_COOKIE}` });
    expect(read.status).toBe(200);
    const refused = await app.http.get(`/v1/images/${digest}`).set({ Authorization: "Bearer sr_not_a_real_token_but_secret_anyway" });
    expect(refused.status).toBe(401);
    const withQueryToken = await app.http.get(`/v1/policy?token=${SECRET_QUERY}&x=1`).set({ Authorization: `Bearer ${readToken}`, "X-Request-Id": "query-token-1" });
    expect(withQueryToken.status).toBe(200);

    const lines = logs.requests();
    const byId = (id: string) => lines.filter((l) => l.reqId === id);
    expect(byId("upload-1")).toEqual([
      expect.objectContaining({ level: 30, method: "POST", route: "/v1/reports", status: 201, caller: "admin (ADMIN_TOKEN)", service: "scan-registry" }),
    ]);
    expect(typeof byId("upload-1")[0]!.durationMs).toBe("number");
    // A generated id is the one the response carries.
    expect(byId(read.headers["x-request-id"]!)).toEqual([expect.objectContaining({ route: "/v1/images/:digest", status: 200, caller: "test-compliance:read" })]);
    expect(byId(refused.headers["x-request-id"]!)).toEqual([expect.objectContaining({ route: "/v1/images/:digest", status: 401 })]);
    expect(byId("query-token-1")).toEqual([expect.objectContaining({ url: "/v1/policy?token=[redacted]&x=1", status: 200 })]);

    const everything = logs.lines.join("\n");
    for (const secret of [app.adminToken, readToken, "sr_not_a_real_token_but_secret_anyway", SECRET_QUERY, SECRET_COOKIE])
      expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/authorization/i);
  });

  test("when a lookup is answered, then its access line is left to debug level, but a refused lookup is logged", async () => {
    const ok = await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${readToken}`, "X-Request-Id": "lookup-ok" });
    expect(ok.status).toBe(200);
    const refused = await app.http.get(`/v1/images/${digest}/compliance`).set({ "X-Request-Id": "lookup-refused" });
    expect(refused.status).toBe(401);
    expect(logs.requests().filter((l) => l.reqId === "lookup-ok")).toEqual([]);
    expect(logs.requests().filter((l) => l.reqId === "lookup-refused")).toEqual([expect.objectContaining({ status: 401, level: 30 })]);
  });
});

describe("at LOG_LEVEL=debug", () => {
  const logs = captureLogs("debug");
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ logger: logs.logger });
  });
  afterAll(async () => app.close());

  test("when lookups are answered, then each is logged at debug with its id, route pattern and URL", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await app.http.get(`/v1/images/${digest}/compliance?namespace=prod`).set({ Authorization: `Bearer ${app.adminToken}`, "X-Request-Id": `lookup-${i}` });
      expect(res.status).toBe(200);
    }
    for (let i = 0; i < 3; i++)
      expect(logs.requests().filter((l) => l.reqId === `lookup-${i}`)).toEqual([
        expect.objectContaining({ level: 20, route: "/v1/images/:digest/compliance", url: `/v1/images/${digest}/compliance?namespace=prod`, status: 200 }),
      ]);
    expect(logs.lines.join("\n")).not.toContain(app.adminToken);
  });
});

test("when a URL has secret-looking query parameters, then only their values are replaced", () => {
  expect(loggableUrl("/v1/images?status=compliant")).toBe("/v1/images?status=compliant");
  expect(loggableUrl("/x?access_token=abc&a=1&api_key=k&password=p")).toBe("/x?access_token=[redacted]&a=1&api_key=[redacted]&password=[redacted]");
  expect(loggableUrl("/ui/login?next=/ui/&token=t")).toBe("/ui/login?next=/ui/&token=[redacted]");
});
