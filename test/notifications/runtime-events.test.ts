/**
 * runtime_violation.opened / .resolved are written with the reconciliation that opens or resolves the violation (an
 * inventory snapshot, a rescan), and verdict.changed of an image that runs carries where it runs, so rules can
 * filter both by cluster and namespace.
 */
import { aPod, podList } from "../support/pods";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { critical, FAST_RETRIES, PRIVATE_OK, subscribe, trivyReport, upload } from "./support";

let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  app = await startTestApp({ env: { ...PRIVATE_OK, ...FAST_RETRIES } });
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});

const snapshot = (cluster: string, pods: Array<Record<string, unknown>>) =>
  app.http.post("/v1/inventory").query({ cluster }).set({ Authorization: `Bearer ${app.adminToken}` }).send(podList(pods));

const received = (path: string) => receiver.requests.filter((r) => r.path === path).flatMap((r) => r.json.events);

test("when a non-compliant image starts running and later stops, then opened and resolved arrive, filtered by cluster and namespace", async () => {
  const digest = fakeDigest("runtime-bad");
  await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/pay", vulnerabilities: critical("CVE-2026-7777") }), "ghcr.io/acme/pay");
  await subscribe(app, { url: `${receiver.url}/prod-payments` }, { events: ["runtime_violation.opened", "runtime_violation.resolved"], cluster: "prod", namespace: "payments" });
  await subscribe(app, { url: `${receiver.url}/staging` }, { events: ["runtime_violation.opened"], cluster: "staging" });
  const pod = aPod({ name: "pay-7d9f8-abcde", namespace: "payments", owner: { kind: "ReplicaSet", name: "pay-7d9f8" }, containers: [{ name: "app", image: "ghcr.io/acme/pay:1.0", digest }] });

  await snapshot("prod", [pod]).expect(200);
  const [opened] = await eventually(async () => {
    const e = received("/prod-payments");
    return e.length >= 1 ? e : undefined;
  });
  expect(opened).toMatchObject({
    type: "runtime_violation.opened",
    severity: "CRITICAL",
    data: {
      violation: { cluster: "prod", namespace: "payments", container: "app", image_digest: digest, opened_cause: "inventory", resolved_at: null },
      image: { digest, repository: "ghcr.io/acme/pay", status: "non_compliant" },
    },
  });
  expect(JSON.stringify(opened.data.image.reasons)).toContain("CVE-2026-7777");

  await snapshot("prod", []).expect(200); // the container is gone
  const resolved = await eventually(async () => received("/prod-payments").find((e: any) => e.type === "runtime_violation.resolved"));
  expect(resolved).toMatchObject({ subject: opened.subject, data: { violation: { resolution: "container_gone", resolved_cause: "inventory" } } });
  await app.service.deliverer.idle();
  expect(received("/staging")).toEqual([]); // another cluster's rule
});

test("when a rescan turns a running image non-compliant, then one change sends verdict.changed with where it runs and the violation it opened", async () => {
  const digest = fakeDigest("runtime-rescan");
  await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/web" }), "ghcr.io/acme/web");
  const pod = aPod({ name: "web-1", namespace: "shop", containers: [{ name: "web", image: "ghcr.io/acme/web:1.0", digest }] });
  await snapshot("prod", [pod]).expect(200);
  await subscribe(app, { url: `${receiver.url}/prod-everything` }, { events: ["verdict.changed", "runtime_violation.opened"], cluster: "prod" });
  await subscribe(app, { url: `${receiver.url}/dev-verdicts` }, { events: ["verdict.changed"], cluster: "dev" });

  await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/web", vulnerabilities: critical() }), "ghcr.io/acme/web");
  const events = await eventually(async () => {
    const e = received("/prod-everything");
    return e.length >= 2 ? e : undefined;
  });
  expect(events.map((e: any) => e.type).sort()).toEqual(["runtime_violation.opened", "verdict.changed"]);
  // One upload is one change: both events came in one request.
  expect(receiver.requests.filter((r) => r.path === "/prod-everything")).toHaveLength(1);
  const { rows } = await app.database.db.pool.query("SELECT placements FROM notification_events WHERE event_type = 'verdict.changed' AND subject = $1", [digest]);
  expect(rows[0].placements).toEqual([{ cluster: "prod", namespace: "shop" }]);
  await app.service.deliverer.idle();
  expect(received("/dev-verdicts")).toEqual([]);
});
