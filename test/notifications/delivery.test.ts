/**
 * Events written with their change and delivered to real receivers on loopback: signatures, retries after a 500,
 * a receiver that hangs or closes the connection, CloudEvents and Slack bodies, the summary of a policy change, and
 * a rolled-back change that sends nothing.
 */
import { HTTP } from "cloudevents";
import { fakeDigest } from "../support/trivy-counts";
import { eventually, startReceiver, verifySignature, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { critical, deliveries, FAST_RETRIES, PRIVATE_OK, subscribe, trivyReport, upload } from "./support";

const SECRET = "webhook-secret-0123456789abcdef";
let app: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  app = await startTestApp({ env: { ...PRIVATE_OK, ...FAST_RETRIES, NOTIFICATION_TIMEOUT_MS: "1500" } });
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});
afterEach(async () => {
  // Each test subscribes its own destinations: drop them so the next test's changes go only where it says.
  await app.database.db.pool.query("DELETE FROM notification_destinations");
  receiver.script([], "ok");
});

/** An image that is compliant now: a clean report (the first verdict of a new image flips from not_scanned). */
async function compliantImage(seed: string, repository = "ghcr.io/acme/api"): Promise<string> {
  const digest = fakeDigest(seed);
  await upload(app, digest, trivyReport({ repository }), repository);
  return digest;
}

test("when a rescan turns an image non-compliant, then a signed webhook with before, after, reasons and cause report arrives", async () => {
  const digest = await compliantImage("rescan");
  const { destination } = await subscribe(app, { url: `${receiver.url}/hook`, secret: SECRET });
  const seen = receiver.requests.length;
  await upload(app, digest, trivyReport({ vulnerabilities: critical("CVE-2026-1111") }));
  const [request] = (await receiver.waitFor(seen + 1)).slice(seen);
  expect(request!.headers["content-type"]).toBe("application/json");
  expect(verifySignature(request!.headers["x-scan-registry-signature"] as string, request!.body, SECRET)).toBe(true);
  expect(request!.headers["x-scan-registry-event"]).toBe("verdict.changed");
  const events = request!.json.events;
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    type: "verdict.changed",
    subject: digest,
    severity: "CRITICAL",
    data: {
      image: { digest, repository: "ghcr.io/acme/api", tags: ["1.0"] },
      cause: "report",
      before: { is_compliant: true, status: "compliant" },
      after: { is_compliant: false, status: "non_compliant" },
    },
  });
  expect(JSON.stringify(events[0].data.after.reasons)).toContain("CVE-2026-1111");
  const attempts = await eventually(async () => {
    const d = await deliveries(app, { destination_id: destination.id });
    return d.length === 1 ? d : undefined;
  });
  expect(attempts[0]).toMatchObject({ event_type: "verdict.changed", status: "delivered", attempt: 1, response_status: 200, event_id: events[0].id });
});

test("when the verdict does not flip (a second non-compliant report), then nothing is sent", async () => {
  const digest = fakeDigest("no-flip");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  await subscribe(app, { url: `${receiver.url}/no-flip` });
  await upload(app, digest, trivyReport({ vulnerabilities: critical("CVE-2026-2222") }));
  await app.service.deliverer.idle();
  const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM notification_events WHERE subject = $1", [digest]);
  expect(rows[0].n).toBe(0);
});

test("when the receiver answers 500 and then 200, then it is retried and both attempts are recorded", async () => {
  const digest = await compliantImage("retry");
  const { destination } = await subscribe(app, { url: `${receiver.url}/flaky` });
  receiver.script(["500"], "ok");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  const attempts = await eventually(async () => {
    const d = await deliveries(app, { destination_id: destination.id });
    return d.some((a) => a.status === "delivered") ? d : undefined;
  });
  expect(attempts.map((a) => [a.attempt, a.status, a.response_status])).toEqual([
    [2, "delivered", 200],
    [1, "retrying", 500],
  ]);
  expect(attempts[1].error).toContain("HTTP 500: receiver exploded");
  const flaky = receiver.requests.filter((r) => r.path === "/flaky");
  expect(flaky.map((r) => r.answered)).toEqual(["500", "ok"]);
  expect(flaky[0]!.json.events[0].id).toBe(flaky[1]!.json.events[0].id); // same event id: receivers can deduplicate
});

test("when a receiver hangs, then its attempt ends after NOTIFICATION_TIMEOUT_MS and is retried later", async () => {
  const hanging = await startReceiver();
  hanging.script([], "hang");
  try {
    const digest = await compliantImage("hang");
    const slow = await subscribe(app, { url: `${hanging.url}/hang` });
    await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
    const timedOut = await eventually(async () => (await deliveries(app, { destination_id: slow.destination.id })).find((a) => a.status === "retrying"));
    expect(timedOut.error).toBe("no complete answer within 1500 ms");
    expect(timedOut.response_status).toBeNull();
    expect(timedOut.duration_ms).toBeGreaterThanOrEqual(1400);
  } finally {
    await app.database.db.pool.query("DELETE FROM notification_destinations");
    await hanging.close();
  }
});

test("when a receiver hangs for good, then uploads, lookups and other destinations go on, and the service still stops at once", async () => {
  const hanging = await startReceiver();
  hanging.script([], "hang");
  const patient = await startTestApp({ env: { ...PRIVATE_OK, NOTIFICATION_TIMEOUT_MS: "60000" } });
  try {
    const digest = fakeDigest("hang-for-good");
    await upload(patient, digest, trivyReport());
    const slow = await subscribe(patient, { url: `${hanging.url}/hang` });
    const fast = await subscribe(patient, { url: `${receiver.url}/fast` });
    await upload(patient, digest, trivyReport({ vulnerabilities: critical() }));
    await hanging.waitFor(1);
    await eventually(async () => ((await deliveries(patient, { destination_id: fast.destination.id })).some((a) => a.status === "delivered") ? true : undefined));
    // The hanging attempt is still in flight (60 s limit), and the service works on.
    expect(await deliveries(patient, { destination_id: slow.destination.id })).toEqual([]);
    await patient.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${patient.adminToken}` }).expect(200);
    await upload(patient, fakeDigest("hang-for-good-2"), trivyReport());
  } finally {
    await patient.close(); // aborts the hanging send: its job stays pending for the next start
    await hanging.close();
  }
});

test("when the receiver closes the connection without answering, then the attempt is recorded as such and retried", async () => {
  const digest = await compliantImage("close");
  const { destination } = await subscribe(app, { url: `${receiver.url}/closing` });
  receiver.script(["close"], "ok");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  const attempts = await eventually(async () => {
    const d = await deliveries(app, { destination_id: destination.id });
    return d.some((a) => a.status === "delivered") ? d : undefined;
  });
  expect(attempts[1]).toMatchObject({ attempt: 1, status: "retrying", response_status: null, error: "the receiver closed the connection before answering" });
});

test("when a receiver redirects (to the metadata address), then the redirect is not followed and counts as a failure", async () => {
  const digest = await compliantImage("redirect");
  const { destination } = await subscribe(app, { url: `${receiver.url}/redirect` });
  receiver.script(["redirect"], "ok");
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  const first = await eventually(async () => (await deliveries(app, { destination_id: destination.id })).find((a) => a.attempt === 1));
  expect(first).toMatchObject({ status: "retrying", response_status: 302 });
  expect(first.error).toContain("redirects are not followed");
});

test("when the destination is CloudEvents, then a structured-mode CloudEvent 1.0 arrives that the cloudevents SDK reads", async () => {
  const digest = await compliantImage("ce");
  await subscribe(app, { type: "cloudevents", url: `${receiver.url}/ce` });
  const seen = receiver.requests.length;
  await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
  const [request] = (await receiver.waitFor(seen + 1)).slice(seen);
  expect(request!.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
  expect(request!.headers["x-scan-registry-signature"]).toBeUndefined(); // no secret, no signature
  const ce = HTTP.toEvent({ headers: request!.headers as Record<string, string>, body: request!.body }) as any;
  expect(ce.specversion).toBe("1.0");
  expect(ce.type).toBe("dev.scan-registry.verdict.changed");
  expect(ce.subject).toBe(digest);
  expect(ce.source).toBe("/scan-registry");
  expect(ce.datacontenttype).toBe("application/json");
  expect(ce.data).toMatchObject({ cause: "report", after: { is_compliant: false } });
});

test("when the destination is Slack, then one readable message names the image, the verdict and why", async () => {
  const digest = await compliantImage("slack");
  await subscribe(app, { type: "slack", url: `${receiver.url}/slack` });
  const seen = receiver.requests.length;
  await upload(app, digest, trivyReport({ vulnerabilities: critical("CVE-2026-3333") }));
  const [request] = (await receiver.waitFor(seen + 1)).slice(seen);
  expect(request!.json.text).toContain("ghcr.io/acme/api@sha256:");
  expect(request!.json.text).toContain("is now *non-compliant* (was compliant), after a new scan report");
  expect(request!.json.text).toContain("CVE-2026-3333");
  expect(request!.json.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
});

test("when a policy change flips many verdicts, then events are written set-based and Slack gets one summary message", async () => {
  const digests: string[] = [];
  for (let i = 0; i < 30; i++) {
    const digest = fakeDigest(`bulk-${i}`);
    // Compliant under the default policy (HIGH does not block), non-compliant once HIGH is limited to 0.
    await upload(app, digest, trivyReport({ repository: "ghcr.io/acme/bulk", vulnerabilities: [{ id: `CVE-2026-9${String(i).padStart(3, "0")}`, severity: "HIGH" }] }), "ghcr.io/acme/bulk");
    digests.push(digest);
  }
  const slack = await subscribe(app, { type: "slack", url: `${receiver.url}/slack-bulk` }, { repository: "ghcr.io/acme/bulk" });
  const hook = await subscribe(app, { url: `${receiver.url}/hook-bulk` }, { repository: "ghcr.io/acme/bulk" });
  const seen = receiver.requests.length;
  await app.http.put("/v1/policy").set({ Authorization: `Bearer ${app.adminToken}` }).send({ max_severity_counts: { CRITICAL: 0, HIGH: 0 } }).expect(200);
  await eventually(async () => ((await deliveries(app, { destination_id: slack.destination.id })).length === 30 ? true : undefined));
  await eventually(async () => ((await deliveries(app, { destination_id: hook.destination.id })).length === 30 ? true : undefined));
  await app.service.deliverer.idle();
  const slackRequests = receiver.requests.slice(seen).filter((r) => r.path === "/slack-bulk");
  expect(slackRequests).toHaveLength(1);
  expect(slackRequests[0]!.json.text).toBe("scan-registry: 30 image(s) became non-compliant");
  expect(JSON.stringify(slackRequests[0]!.json.blocks)).toContain("…and 20 more");
  const hookRequests = receiver.requests.slice(seen).filter((r) => r.path === "/hook-bulk");
  expect(hookRequests).toHaveLength(1);
  expect(hookRequests[0]!.json.events).toHaveLength(30);
  expect(new Set(hookRequests[0]!.json.events.map((e: any) => e.data.cause))).toEqual(new Set(["policy"]));
  const attempts = await deliveries(app, { destination_id: slack.destination.id });
  expect(new Set(attempts.map((a) => a.request_id)).size).toBe(1);
  await app.http.put("/v1/policy").set({ Authorization: `Bearer ${app.adminToken}` }).send({}).expect(200);
});

test("when a change is rolled back, then no event is written and nothing is sent", async () => {
  const digest = await compliantImage("rollback");
  await subscribe(app, { url: `${receiver.url}/rollback` });
  const before = await app.database.db.pool.query("SELECT count(*)::int AS n FROM notification_events");
  // The upload's transaction fails after its verdict and event were written (a trigger on the outbox's jobs).
  await app.database.db.pool.query("CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$");
  await app.database.db.pool.query("CREATE TRIGGER injected_failure AFTER INSERT ON notification_jobs FOR EACH ROW EXECUTE FUNCTION injected_failure()");
  try {
    const res = await app.http
      .post("/v1/reports")
      .query({ digest, image: "ghcr.io/acme/api:1.0" })
      .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
      .send(trivyReport({ vulnerabilities: critical() }));
    expect(res.status).toBe(500);
  } finally {
    await app.database.db.pool.query("DROP TRIGGER injected_failure ON notification_jobs; DROP FUNCTION injected_failure()");
  }
  const after = await app.database.db.pool.query("SELECT count(*)::int AS n FROM notification_events");
  expect(after.rows[0].n).toBe(before.rows[0].n);
  const { rows } = await app.database.db.pool.query("SELECT is_compliant FROM image_scans WHERE image_digest = $1", [digest]);
  expect(rows[0].is_compliant).toBe(true); // the upload itself rolled back with its event
  await app.service.deliverer.idle();
  expect(receiver.requests.filter((r) => r.path === "/rollback")).toHaveLength(0);
});

test("when rules filter by repository and severity, then only matching events are written, and each once per destination", async () => {
  const nginx = await compliantImage("other-repo", "docker.io/library/nginx");
  const web = fakeDigest("web-fixed");
  await upload(app, web, trivyReport({ repository: "ghcr.io/acme/web", vulnerabilities: critical() }), "ghcr.io/acme/web");
  const acme = await subscribe(app, { url: `${receiver.url}/acme` }, { repository: "ghcr.io/acme/*" });
  const everything = await subscribe(app, { url: `${receiver.url}/everything` });
  // A second rule of the same destination matching the same events: each event is still sent to it once.
  await app.http
    .post("/v1/notifications/rules")
    .set({ Authorization: `Bearer ${app.adminToken}` })
    .send({ name: "again", destination_id: everything.destination.id, events: ["verdict.changed"] })
    .expect(201);
  const criticalOnly = await subscribe(app, { url: `${receiver.url}/critical-only` }, { min_severity: "CRITICAL" });
  await upload(app, nginx, trivyReport({ repository: "docker.io/library/nginx", vulnerabilities: critical() }), "docker.io/library/nginx"); // turns non-compliant: CRITICAL
  await upload(app, web, trivyReport({ repository: "ghcr.io/acme/web" }), "ghcr.io/acme/web"); // turns compliant: no severity left
  const subjects = async (destinationId: string) =>
    (await app.database.db.pool.query("SELECT e.subject FROM notification_jobs j JOIN notification_events e ON e.id = j.event_id WHERE j.destination_id = $1 ORDER BY 1", [destinationId])).rows.map(
      (r) => r.subject,
    );
  expect(await subjects(acme.destination.id)).toEqual([web]);
  expect(await subjects(everything.destination.id)).toEqual([nginx, web].sort());
  expect(await subjects(criticalOnly.destination.id)).toEqual([nginx]);
  await eventually(async () => ((await deliveries(app, { destination_id: everything.destination.id })).length === 2 ? true : undefined));
});
