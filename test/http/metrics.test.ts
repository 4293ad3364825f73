import { gzipSync } from "node:zlib";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

let app: TestApp;
let readToken: string;
const compliant = fakeDigest("metrics-alpine");

beforeAll(async () => {
  app = await startTestApp();
  readToken = await app.token("compliance:read");
});
afterAll(async () => app.close());

const admin = () => ({ Authorization: `Bearer ${app.adminToken}` });

async function scrape(): Promise<string> {
  const res = await app.http.get("/metrics").set({ Authorization: `Bearer ${readToken}` });
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
}

/** The value of one sample, e.g. value(text, 'scan_registry_lookups_total{status="compliant"}'); 0 when absent. */
function value(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** The value of one sample that must be in the scrape: a missing line fails instead of reading as 0. */
function presentValue(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  expect({ sample, present: line !== undefined }).toEqual({ sample, present: true });
  return Number(line!.slice(sample.length + 1));
}

test("when /metrics is scraped without a token, then 401; with a token lacking compliance:read, then 403", async () => {
  expect((await app.http.get("/metrics")).status).toBe(401);
  const writer = await app.token("reports:write");
  const res = await app.http.get("/metrics").set({ Authorization: `Bearer ${writer}` });
  expect(res.status).toBe(403);
  expect(res.body.code).toBe("insufficient_scope");
});

test("when reports are uploaded, then reports by format and findings ingested rise (duplicates not counted)", async () => {
  const before = await scrape();
  const body = readFixture("alpine-310.json.golden");
  const findings = readFixtureJson("alpine-310.json.golden").Results.reduce((n: number, r: any) => n + (r.Vulnerabilities?.length ?? 0), 0);
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${app.service.url}/v1/reports?digest=${compliant}`, {
      method: "POST",
      headers: { ...admin(), "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body: gzipSync(body),
    });
    expect(res.status).toBe(i === 0 ? 201 : 200);
  }
  const after = await scrape();
  expect(value(after, 'scan_registry_reports_total{format="trivy"}') - value(before, 'scan_registry_reports_total{format="trivy"}')).toBe(1);
  expect(value(after, "scan_registry_findings_ingested_total") - value(before, "scan_registry_findings_ingested_total")).toBe(findings);
  expect(findings).toBeGreaterThan(0);
});

test("when lookups are answered, then lookups by status, cache hits and misses, and route-pattern durations are counted", async () => {
  const before = await scrape();
  const unknown = fakeDigest("metrics-never-uploaded");
  for (let i = 0; i < 3; i++) await app.http.get(`/v1/images/${compliant}/compliance`).set(admin()).expect(200);
  await app.http.get(`/v1/images/${unknown}/compliance`).set(admin()).expect(200);
  const after = await scrape();
  const delta = (sample: string) => value(after, sample) - value(before, sample);
  expect(delta('scan_registry_lookups_total{status="compliant"}')).toBe(3);
  expect(delta('scan_registry_lookups_total{status="not_scanned"}')).toBe(1);
  // The first lookup of each digest misses the cache and loads it (counted once, though the unknown digest is
  // probed by the fast path before Express looks it up); the repeats hit it.
  expect(delta("scan_registry_verdict_cache_misses_total")).toBe(2);
  expect(delta("scan_registry_verdict_cache_hits_total")).toBe(2);
  const count = 'http_request_duration_seconds_count{method="GET",route="/v1/images/:digest/compliance",status="200"}';
  expect(delta(count)).toBe(4);
  // Never a digest in a label: one series per route, not per image.
  expect(after).not.toMatch(/sha256:[0-9a-f]{64}/);
});

test("when an unknown path is requested, then its duration is labelled 'unmatched', not with the URL", async () => {
  await app.http.get(`/no/such/${fakeDigest("x")}`).set(admin()).expect(404);
  const text = await scrape();
  expect(value(text, 'http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}')).toBeGreaterThanOrEqual(1);
  expect(text).not.toContain("/no/such");
});

test("when the policy changes, then a re-evaluation duration is observed", async () => {
  const before = value(await scrape(), 'scan_registry_reevaluation_duration_seconds_count{scope="all"}');
  await app.http.put("/v1/policy").set(admin()).send({ max_severity_counts: { CRITICAL: 0, HIGH: 1000 } }).expect(200);
  const after = value(await scrape(), 'scan_registry_reevaluation_duration_seconds_count{scope="all"}');
  expect(after - before).toBe(1);
});

test("when scraped, then the queue depth, database pool and process metrics are there", async () => {
  const text = await scrape();
  expect(text).toMatch(/^scan_registry_decision_log_queue_depth \d+$/m);
  expect(value(text, "scan_registry_decision_log_dropped_total")).toBe(0);
  for (const state of ["total", "idle", "waiting"]) expect(text).toMatch(new RegExp(`^scan_registry_db_pool_connections\\{state="${state}"\\} \\d+$`, "m"));
  expect(value(text, 'scan_registry_db_pool_connections{state="total"}')).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
});

test("when lookups are queued for the decision log, then the queue depth gauge shows them until flushed", async () => {
  const log = app.service.deps.decisionLog;
  await log.stop(); // flushes and stops the 1 s timer, so the queue holds still while we look
  try {
    for (let i = 0; i < 5; i++) await app.http.get(`/v1/images/${compliant}/compliance`).set(admin()).expect(200);
    expect(value(await scrape(), "scan_registry_decision_log_queue_depth")).toBe(5);
    await app.flushDecisions();
    expect(value(await scrape(), "scan_registry_decision_log_queue_depth")).toBe(0);
  } finally {
    log.start();
  }
});

test("when METRICS_AUTH=none, then /metrics answers without a token, from a registry of its own", async () => {
  const open = await startTestApp({ env: { METRICS_AUTH: "none" } });
  try {
    const res = await open.http.get("/metrics");
    expect(res.status).toBe(200);
    // A fresh app's registry: none of the lookups counted above.
    expect(value(res.text, 'scan_registry_lookups_total{status="compliant"}')).toBe(0);
    // ...and it counts this app's own lookups: after one, the line is there and says 1 (0 read from a missing line
    // above would pass just the same if the metric were gone).
    const digest = fakeDigest("metrics-open-alpine");
    await open.http
      .post(`/v1/reports?digest=${digest}`)
      .set({ Authorization: `Bearer ${open.adminToken}`, "Content-Type": "application/json" })
      .send(readFixture("alpine-310.json.golden").toString("utf8"))
      .expect(201);
    await open.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${open.adminToken}` }).expect(200);
    const after = await open.http.get("/metrics");
    expect(after.status).toBe(200);
    expect(presentValue(after.text, 'scan_registry_lookups_total{status="compliant"}')).toBe(1);
  } finally {
    await open.close();
  }
});
