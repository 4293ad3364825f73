/**
 * Delivery that survives crashes and scales out: the service killed with SIGKILL while a notification is being sent
 * delivers it after a restart; two replicas on one database deliver every event exactly once under load.
 */
import fs from "node:fs";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { startServeProcess, type ServeProcess } from "../support/serve-process";
import { critical, FAST_RETRIES, PRIVATE_OK, subscribe, trivyReport, upload } from "./support";

const MAIN = path.resolve(__dirname, "../../dist/main.js");

type Child = ServeProcess;

/** `node dist/main.js serve` on the database, as an operator runs it; resolves once it listens. */
const serve = (database: TestDatabase, env: Record<string, string>): Promise<Child> =>
  startServeProcess({ DATABASE_URL: database.url, ...PRIVATE_OK, ...FAST_RETRIES, ...env }, 30_000);

const killed = (child: Child) => new Promise<void>((resolve) => (child.process.exitCode !== null || child.process.signalCode !== null ? resolve() : child.process.once("exit", () => resolve())));

describe("a crash between commit and delivery", () => {
  let database: TestDatabase;
  let receiver: Receiver;
  const children: Child[] = [];
  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error("dist is missing: run `npm run build` first");
    database = await createTestDatabase();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const c of children) c.process.kill("SIGKILL");
    await Promise.all(children.map(killed));
    await receiver?.close();
    await database?.drop();
  });

  test("when the service is SIGKILLed while sending, then after a restart the event is delivered, and the lost attempt is not counted", async () => {
    const first = await serve(database, {});
    children.push(first);
    const api = { http: require("supertest")(first.url), adminToken: TEST_ADMIN_TOKEN } as unknown as TestApp;
    const digest = fakeDigest("crash");
    await upload(api, digest, trivyReport());
    const { destination } = await subscribe(api, { url: `${receiver.url}/crash` });
    receiver.script([], "hang"); // the send is in flight when the process dies
    await upload(api, digest, trivyReport({ vulnerabilities: critical() })); // committed: the event is stored
    const [inFlight] = await receiver.waitFor(1);
    first.process.kill("SIGKILL");
    await killed(first);

    const { rows: pending } = await database.db.pool.query("SELECT status, attempts FROM notification_jobs WHERE destination_id = $1", [destination.id]);
    expect(pending).toEqual([{ status: "pending", attempts: 0 }]);

    receiver.script([], "ok");
    const second = await serve(database, {});
    children.push(second);
    const [, delivered] = await receiver.waitFor(2);
    expect(delivered!.json.events[0].id).toBe(inFlight!.json.events[0].id); // the same event, sent again
    const attempts = await eventually(async () => {
      const { rows } = await database.db.pool.query("SELECT attempt, status, response_status FROM notification_deliveries WHERE destination_id = $1", [destination.id]);
      return rows.length > 0 ? rows : undefined;
    });
    expect(attempts).toEqual([{ attempt: 1, status: "delivered", response_status: 200 }]);
    const { rows: done } = await database.db.pool.query("SELECT status, attempts FROM notification_jobs WHERE destination_id = $1", [destination.id]);
    expect(done).toEqual([{ status: "delivered", attempts: 1 }]);
  });
});

describe("two replicas on one database", () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let receiver: Receiver;
  beforeAll(async () => {
    database = await createTestDatabase();
    receiver = await startReceiver();
    const env = { ...PRIVATE_OK, ...FAST_RETRIES, NOTIFICATION_CONCURRENCY: "8", NOTIFICATION_CONCURRENCY_PER_DESTINATION: "8" };
    a = await startTestApp({ database, env });
    b = await startTestApp({ database, env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await receiver?.close();
    await database?.drop();
  });

  test("when both replicas write and deliver events under load, then each event reaches each destination exactly once", async () => {
    const hooks = await subscribe(a, { url: `${receiver.url}/replicas` });
    const slack = await subscribe(b, { type: "slack", url: `${receiver.url}/replicas-slack` });
    receiver.script(["500", "close", "500"], "ok"); // a few failures, so retries race too
    const IMAGES = 60;
    // Each image is uploaded clean, then with a CRITICAL: two flips (not_scanned → compliant → non_compliant) each,
    // through alternating replicas, 12 at a time.
    const work = Array.from({ length: IMAGES }, (_, i) => i);
    const run = async (i: number) => {
      const digest = fakeDigest(`replica-${i}`);
      await upload(i % 2 ? a : b, digest, trivyReport());
      await upload(i % 2 ? b : a, digest, trivyReport({ vulnerabilities: critical() }));
    };
    for (let i = 0; i < work.length; i += 12) await Promise.all(work.slice(i, i + 12).map(run));
    const { rows: events } = await database.db.pool.query("SELECT count(*)::int AS n FROM notification_events");
    expect(events[0].n).toBe(IMAGES * 2);

    await eventually(async () => {
      const { rows } = await database.db.pool.query("SELECT count(*)::int AS n FROM notification_jobs WHERE status <> 'delivered'");
      return rows[0].n === 0 ? true : undefined;
    }, 60_000, "every job delivered");
    await Promise.all([a.service.deliverer.idle(), b.service.deliverer.idle()]);

    // Webhook: every event id arrives, and once among the requests that were answered 200.
    const ok = receiver.requests.filter((r) => r.path === "/replicas" && r.answered === "ok");
    const ids = ok.flatMap((r) => r.json.events.map((e: any) => e.id));
    expect(ids.length).toBe(IMAGES * 2);
    expect(new Set(ids).size).toBe(IMAGES * 2);
    // Slack: one message per change, each change delivered once.
    const slackOk = receiver.requests.filter((r) => r.path === "/replicas-slack" && r.answered === "ok");
    expect(slackOk.length).toBe(IMAGES * 2);
    // The recorded attempts agree: exactly one delivered attempt per event and destination.
    const { rows: delivered } = await database.db.pool.query(
      "SELECT destination_id, event_id, count(*)::int AS n FROM notification_deliveries WHERE status = 'delivered' GROUP BY 1, 2 HAVING count(*) <> 1",
    );
    expect(delivered).toEqual([]);
    const { rows: perDestination } = await database.db.pool.query(
      "SELECT destination_id, count(*)::int AS n FROM notification_deliveries WHERE status = 'delivered' GROUP BY 1 ORDER BY 1",
    );
    expect(perDestination.map((r) => r.n)).toEqual([IMAGES * 2, IMAGES * 2]);
    expect(new Set(perDestination.map((r) => r.destination_id))).toEqual(new Set([hooks.destination.id, slack.destination.id]));
  });
});
