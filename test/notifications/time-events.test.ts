/**
 * Events that time and policy cause: exception.expiring once per exception (also with two replicas sweeping), the
 * causes exception, expiry and scan_age of verdict.changed, retries that give up after NOTIFICATION_RETRY_HOURS, and
 * the metrics. The service clock is injected and moves with real time, offset by what a test says.
 */
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { fakeDigest } from "../support/trivy-counts";
import { critical, deliveries, FAST_RETRIES, PRIVATE_OK, subscribe, trivyReport, upload } from "./support";

const DAY = 86_400_000;
let offset = 0;
const clock = () => new Date(Date.now() + offset);
let database: TestDatabase;
let app: TestApp;
let replica: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  database = await createTestDatabase();
  const env = { ...PRIVATE_OK, ...FAST_RETRIES, NOTIFY_EXCEPTION_EXPIRY_DAYS: "7" };
  app = await startTestApp({ database, clock, env });
  replica = await startTestApp({ database, clock, env });
});
afterAll(async () => {
  await app?.close();
  await replica?.close();
  await receiver?.close();
  await database?.drop();
});
afterEach(async () => {
  await database.db.pool.query("DELETE FROM notification_destinations");
  receiver.script([], "ok");
});

const eventsAt = (path: string) => receiver.requests.filter((r) => r.path === path).flatMap((r) => r.json.events);
const grant = (body: Record<string, unknown>) => app.http.post("/v1/exceptions").set({ Authorization: `Bearer ${app.adminToken}` }).send(body);

test("when an exception comes within NOTIFY_EXCEPTION_EXPIRY_DAYS of its expiry, then exception.expiring is sent once, however many replicas sweep how often", async () => {
  const digest = fakeDigest("expiring");
  await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/exp", vulnerabilities: critical("CVE-2026-4444") }), "ghcr.io/acme/exp");
  await subscribe(app, { url: `${receiver.url}/expiring` }, { events: ["exception.expiring"], repository: "ghcr.io/acme/*" });
  const far = await grant({ vulnerability_id: "CVE-2026-4444", repository: "ghcr.io/acme/exp", reason: "patch next sprint", expires_at: new Date(clock().getTime() + 20 * DAY).toISOString() }).expect(201);
  await Promise.all([app.service.sweeper.sweep(), replica.service.sweeper.sweep()]);
  expect((await database.db.pool.query("SELECT count(*)::int AS n FROM notification_events WHERE event_type = 'exception.expiring'")).rows[0].n).toBe(0);

  offset += 14 * DAY; // now 6 days before it expires
  await Promise.all([app.service.sweeper.sweep(), replica.service.sweeper.sweep(), app.service.sweeper.sweep(), replica.service.sweeper.sweep()]);
  await Promise.all([app.service.sweeper.sweep(), replica.service.sweeper.sweep()]);
  const [event] = await eventually(async () => {
    const e = eventsAt("/expiring");
    return e.length ? e : undefined;
  });
  expect(event).toMatchObject({
    type: "exception.expiring",
    subject: far.body.id,
    severity: "CRITICAL",
    data: { exception: { id: far.body.id, vulnerability_id: "CVE-2026-4444", repository: "ghcr.io/acme/exp", reason: "patch next sprint" }, expires_in_days: 6, affected_images: 1, repositories: ["ghcr.io/acme/exp"] },
  });
  await Promise.all([app.service.deliverer.idle(), replica.service.deliverer.idle()]);
  expect(eventsAt("/expiring")).toHaveLength(1);
  const { rows } = await database.db.pool.query("SELECT count(*)::int AS n FROM notification_events WHERE event_type = 'exception.expiring'");
  expect(rows[0].n).toBe(1);
  offset = 0;
});

test("when an exception is granted, then expires, then the image flips with cause exception, then cause expiry", async () => {
  const digest = fakeDigest("exception-cause");
  await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/exc", vulnerabilities: critical("CVE-2026-5555") }), "ghcr.io/acme/exc");
  await subscribe(app, { url: `${receiver.url}/causes` });
  await grant({ vulnerability_id: "CVE-2026-5555", image_digest: digest, reason: "accepted", expires_at: new Date(clock().getTime() + 2 * DAY).toISOString() }).expect(201);
  await eventually(async () => (eventsAt("/causes").length === 1 ? true : undefined));
  expect(eventsAt("/causes")[0]).toMatchObject({ data: { cause: "exception", before: { is_compliant: false }, after: { is_compliant: true, status: "compliant" } } });

  offset += 3 * DAY;
  await Promise.all([app.service.sweeper.sweep(), replica.service.sweeper.sweep()]);
  await eventually(async () => (eventsAt("/causes").length === 2 ? true : undefined));
  expect(eventsAt("/causes")[1]).toMatchObject({ data: { cause: "expiry", before: { is_compliant: true }, after: { is_compliant: false, status: "non_compliant" } } });
  await Promise.all([app.service.deliverer.idle(), replica.service.deliverer.idle()]);
  expect(eventsAt("/causes")).toHaveLength(2); // two replicas swept: still one event
  offset = 0;
});

test("when a scan passes max_scan_age_days, then verdict.changed says scan_age", async () => {
  const digest = fakeDigest("scan-age");
  await app.http.put("/v1/policy").set({ Authorization: `Bearer ${app.adminToken}` }).send({ max_scan_age_days: 30 }).expect(200);
  try {
    await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/age", scannedAt: clock() }), "ghcr.io/acme/age");
    await subscribe(app, { url: `${receiver.url}/age` }, { repository: "ghcr.io/acme/age" });
    offset += 31 * DAY;
    await app.service.sweeper.sweep();
    const [event] = await eventually(async () => {
      const e = eventsAt("/age");
      return e.length ? e : undefined;
    });
    expect(event).toMatchObject({ subject: digest, severity: null, data: { cause: "scan_age", after: { is_compliant: false, status: "stale" } } });
  } finally {
    offset = 0;
    await app.http.put("/v1/policy").set({ Authorization: `Bearer ${app.adminToken}` }).send({}).expect(200);
  }
});

test("when a receiver fails for longer than NOTIFICATION_RETRY_HOURS, then the job is failed, the last attempt says so, and the counters count it", async () => {
  const digest = fakeDigest("give-up");
  await upload(app, digest, trivyReport());
  const { destination } = await subscribe(app, { url: `${receiver.url}/down` });
  receiver.script([], "500");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  await eventually(async () => ((await deliveries(app, { destination_id: destination.id })).length >= 2 ? true : undefined));
  const metrics = async () => (await app.http.get("/metrics").set({ Authorization: `Bearer ${app.adminToken}` }).expect(200)).text;
  expect(await metrics()).toMatch(/scan_registry_notification_deliveries_total\{type="webhook",outcome="retrying"\} [1-9]/);

  offset += 25 * 3_600_000;
  const last = await eventually(async () => (await deliveries(app, { destination_id: destination.id })).find((d) => d.status === "failed"));
  expect(last.error).toContain("HTTP 500");
  const { rows } = await database.db.pool.query("SELECT status FROM notification_jobs WHERE destination_id = $1", [destination.id]);
  expect(rows).toEqual([{ status: "failed" }]);
  await Promise.all([app.service.deliverer.idle(), replica.service.deliverer.idle()]);
  // A failed job is not pending: the backlog gauge is back to 0, and the counter has the failure.
  const text = await metrics();
  expect(text).toMatch(/^scan_registry_notification_oldest_pending_seconds 0$/m);
  expect(text).toMatch(/scan_registry_notification_deliveries_total\{type="webhook",outcome="failed"\} 1\b/);
  offset = 0;
});

test("when events wait for a paused deliverer, then the backlog gauge shows the oldest one's age", async () => {
  const paused = await startTestApp({ clock, env: { ...PRIVATE_OK, NOTIFICATION_DELIVERY_ENABLED: "false" } });
  try {
    const digest = fakeDigest("paused");
    await upload(paused, digest, trivyReport());
    await subscribe(paused, { url: `${receiver.url}/paused` });
    await upload(paused, digest, trivyReport({ vulnerabilities: critical() }));
    offset += 3_600_000;
    const text = (await paused.http.get("/metrics").set({ Authorization: `Bearer ${paused.adminToken}` }).expect(200)).text;
    const age = Number(/^scan_registry_notification_oldest_pending_seconds (\S+)$/m.exec(text)?.[1]);
    expect(age).toBeGreaterThanOrEqual(3600);
    expect(age).toBeLessThan(3600 + 600);
    expect(receiver.requests.filter((r) => r.path === "/paused")).toHaveLength(0);
  } finally {
    offset = 0;
    await paused.close();
  }
});
