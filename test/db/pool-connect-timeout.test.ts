import { Client } from "pg";
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";

/** DB_CONNECT_TIMEOUT_MS: how long a request waits for a main-pool connection before the documented 503. */
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ env: { DB_POOL_SIZE: "1", DB_CONNECT_TIMEOUT_MS: "300" } });
});
afterAll(async () => app?.close());

test("when every main-pool connection stays busy longer than DB_CONNECT_TIMEOUT_MS, then the next request answers 503 database_unavailable, and 200 once it is free", async () => {
  const writer = await app.token("reports:write");
  const reader = await app.token("compliance:read");
  const blocker = new Client({ connectionString: app.database.url });
  await blocker.connect();
  try {
    // The upload takes the only connection and waits on this lock for as long as the blocker holds it.
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE scan_reports IN ACCESS EXCLUSIVE MODE");
    const upload = app.http.post("/v1/reports?digest=sha256:" + "a".repeat(64)).set("Authorization", `Bearer ${writer}`).set("Content-Type", "application/json").send(readFixture("alpine-310.json.golden").toString("utf8"));
    const uploading = upload.then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // A second upload needs a main-pool connection before anything else; the only one stays busy for 3 s, far past
    // the 300 ms setting (with the default of 10 s it would get the connection once the lock goes and answer 201).
    const waiting = app.http.post("/v1/reports?digest=sha256:" + "b".repeat(64)).set("Authorization", `Bearer ${writer}`).set("Content-Type", "application/json").send(readFixture("debian-stretch.json.golden").toString("utf8")).then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await blocker.query("ROLLBACK");
    const waited = await waiting;
    expect(waited.status).toBe(503);
    expect(waited.body.code).toBe("database_unavailable");
    expect(waited.headers["retry-after"]).toBeDefined();
    expect((await uploading).status).toBe(201);
    expect((await app.http.get("/v1/images").set("Authorization", `Bearer ${reader}`)).status).toBe(200);
  } finally {
    await blocker.end();
  }
});
