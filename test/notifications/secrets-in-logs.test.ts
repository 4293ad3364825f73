/**
 * A destination's secret (and its URL's path, which for Slack is the credential) never reaches the logs, at the most
 * verbose level, through creating, testing, delivering (a success and a failure) and deleting.
 */
import { createLogger } from "../../src/logger";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { critical, deliveries, FAST_RETRIES, PRIVATE_OK, trivyReport, upload } from "./support";

const SECRET = "secret-that-must-not-be-logged-123456";
const SLACK_PATH = "/services/T0SECRET/B0SECRET/XXXXSECRETXXXX";
const lines: string[] = [];
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  app = await startTestApp({ env: { ...PRIVATE_OK, ...FAST_RETRIES, LOG_LEVEL: "trace" }, logger: createLogger("trace", { write: (line: string) => void lines.push(line) }) });
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});

test("when destinations are created, tested, delivered to (failing once) and deleted, then no log line holds the secret or the Slack path", async () => {
  const auth = { Authorization: `Bearer ${app.adminToken}` };
  const hook = await app.http.post("/v1/notifications/destinations").set(auth).send({ name: "logged-hook", type: "webhook", url: `${receiver.url}/hook`, secret: SECRET }).expect(201);
  const slack = await app.http.post("/v1/notifications/destinations").set(auth).send({ name: "logged-slack", type: "slack", url: `${receiver.url}${SLACK_PATH}` }).expect(201);
  for (const d of [hook.body, slack.body]) {
    await app.http.post("/v1/notifications/rules").set(auth).send({ name: `r-${d.name}`, destination_id: d.id, events: ["verdict.changed"] }).expect(201);
    await app.http.post(`/v1/notifications/destinations/${d.id}/test`).set(auth).expect(200);
  }
  const digest = fakeDigest("logged");
  await upload(app, digest, trivyReport());
  receiver.script(["500", "500"], "ok");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  await eventually(async () => ((await deliveries(app, { event_type: "verdict.changed", status: "delivered" })).length >= 4 ? true : undefined));
  // A refused body echoes nothing either.
  await app.http.post("/v1/notifications/destinations").set(auth).send({ name: "logged-hook", type: "webhook", url: `${receiver.url}/hook`, secret: SECRET }).expect(409);
  await app.http.delete(`/v1/notifications/destinations/${hook.body.id}`).set(auth).expect(200);
  await app.service.deliverer.idle();

  expect(lines.length).toBeGreaterThan(20);
  expect(lines.some((l) => l.includes("notification not delivered"))).toBe(true); // the failure was logged
  expect(lines.filter((l) => l.includes(SECRET) || l.includes("T0SECRET"))).toEqual([]);
  const { rows } = await app.database.db.pool.query("SELECT error FROM notification_deliveries WHERE error IS NOT NULL");
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.filter((r) => r.error.includes("SECRET"))).toEqual([]);
});
