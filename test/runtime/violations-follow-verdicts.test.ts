/**
 * Runtime violations open and resolve by themselves on every cause — a snapshot, a rescan, a policy change, an
 * exception granted, withdrawn or expiring, a scan ageing — in the transaction of the change. Real service, real
 * PostgreSQL, an injected clock.
 */
import { readFixtureJson } from "../support/fixtures";
import { deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";

let app: TestApp;
let now = new Date("2026-12-01T10:00:00Z");
const DAY = 86_400_000;

beforeAll(async () => {
  app = await startTestApp({ clock: () => now });
});
afterAll(async () => app?.close());

const json = () => ({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" });

/** alpine 3.10 (4 MEDIUM: compliant by default), scanned at `scannedAt`, optionally with one CRITICAL more. */
function report(scannedAt: Date, critical?: string) {
  const r = readFixtureJson("alpine-310.json.golden");
  r.CreatedAt = scannedAt.toISOString();
  if (critical) {
    r.Results[0].Vulnerabilities.push({ ...r.Results[0].Vulnerabilities[0], VulnerabilityID: critical, Severity: "CRITICAL", Title: "added for the test" });
  }
  return r;
}

async function upload(digest: string, body: unknown) {
  const res = await app.http.post("/v1/reports").query({ digest, image: "docker.io/library/alpine:3.10" }).set(json()).send(body as object);
  expect([200, 201]).toContain(res.status);
  return res.body;
}

async function runInCluster(cluster: string, digests: Record<string, string>) {
  const pods = Object.entries(digests).flatMap(([name, digest]) =>
    deploymentPods({ name, namespace: "apps", replicas: 2, containers: [{ name: "main", image: "alpine:3.10", digest }] }),
  );
  const res = await app.http.post("/v1/inventory").query({ cluster }).set(json()).send(podList(pods)).expect(200);
  return res.body;
}

async function violations(cluster: string) {
  const { rows } = await app.database.db.pool.query(
    `SELECT name, status, opened_cause, resolved_cause, resolution, resolved_at IS NULL AS open
     FROM runtime_violations WHERE cluster = $1 ORDER BY id`,
    [cluster],
  );
  return rows;
}
const openOnes = async (cluster: string) => (await violations(cluster)).filter((v) => v.open);

test("when a running compliant image is rescanned with a CRITICAL, then a violation opens (cause report); a clean rescan resolves it", async () => {
  const d = digestOf("rescan");
  await upload(d, report(new Date(now.getTime() - DAY)));
  expect(await runInCluster("rescan", { web: d })).toMatchObject({ violations_opened: 0 });
  await upload(d, report(new Date(now.getTime() - DAY / 2), "CVE-2026-0001"));
  expect(await openOnes("rescan")).toEqual([{ name: "web", status: "non_compliant", opened_cause: "report", resolved_cause: null, resolution: null, open: true }]);
  await upload(d, report(new Date(now.getTime() - DAY / 4)));
  expect(await violations("rescan")).toEqual([{ name: "web", status: "non_compliant", opened_cause: "report", resolved_cause: "report", resolution: "image_compliant", open: false }]);
});

test("when the policy changes, then violations of every cluster follow it (cause policy), once per change", async () => {
  const d = digestOf("policy");
  await upload(d, report(new Date(now.getTime() - DAY), "CVE-2026-0002"));
  await runInCluster("policy-a", { api: d });
  await runInCluster("policy-b", { api: d });
  expect(await openOnes("policy-a")).toHaveLength(1);
  await app.http.put("/v1/policy").set(json()).send({ max_severity_counts: { CRITICAL: 5 } }).expect(200);
  for (const cluster of ["policy-a", "policy-b"])
    expect(await violations(cluster)).toEqual([expect.objectContaining({ open: false, resolved_cause: "policy", resolution: "image_compliant" })]);
  await app.http.put("/v1/policy").set(json()).send({}).expect(200);
  for (const cluster of ["policy-a", "policy-b"]) {
    const all = await violations(cluster);
    expect(all).toHaveLength(2);
    expect(all[1]).toMatchObject({ open: true, opened_cause: "policy", status: "non_compliant" });
  }
});

test("when an image never scanned runs, then it is a not_scanned violation (cause inventory) until the policy allows unscanned images", async () => {
  const d = digestOf("unscanned");
  expect(await runInCluster("unscanned", { job: d })).toMatchObject({ violations_opened: 1 });
  expect(await openOnes("unscanned")).toEqual([expect.objectContaining({ status: "not_scanned", opened_cause: "inventory" })]);
  await app.http.put("/v1/policy").set(json()).send({ unscanned: "allow" }).expect(200);
  expect(await openOnes("unscanned")).toEqual([]);
  await app.http.put("/v1/policy").set(json()).send({}).expect(200);
  expect(await openOnes("unscanned")).toEqual([expect.objectContaining({ status: "not_scanned", opened_cause: "policy" })]);
  // A first report resolves it (cause report).
  await upload(d, report(new Date(now.getTime() - DAY)));
  expect(await openOnes("unscanned")).toEqual([]);
  expect((await violations("unscanned")).at(-1)).toMatchObject({ resolved_cause: "report", resolution: "image_compliant" });
});

test("when an exception is granted, withdrawn, and granted again until an expiry that passes, then the violation follows (exception, expiry)", async () => {
  const d = digestOf("exception");
  await upload(d, report(new Date(now.getTime() - DAY), "CVE-2026-0003"));
  await runInCluster("exception", { worker: d });
  expect(await openOnes("exception")).toHaveLength(1);

  const granted = await app.http.post("/v1/exceptions").set(json()).send({ vulnerability_id: "CVE-2026-0003", image_digest: d, reason: "not reachable" }).expect(201);
  expect(await openOnes("exception")).toEqual([]);
  expect((await violations("exception")).at(-1)).toMatchObject({ resolved_cause: "exception", resolution: "image_compliant" });

  await app.http.delete(`/v1/exceptions/${granted.body.id}`).set(json()).expect(200);
  expect(await openOnes("exception")).toEqual([expect.objectContaining({ opened_cause: "exception" })]);

  await app.http
    .post("/v1/exceptions")
    .set(json())
    .send({ vulnerability_id: "CVE-2026-0003", image_digest: d, reason: "patch on Friday", expires_at: new Date(now.getTime() + 2 * DAY).toISOString() })
    .expect(201);
  expect(await openOnes("exception")).toEqual([]);
  now = new Date(now.getTime() + 3 * DAY);
  expect(await app.service.sweeper.sweep()).toBeGreaterThanOrEqual(1);
  expect(await openOnes("exception")).toEqual([expect.objectContaining({ opened_cause: "expiry", status: "non_compliant" })]);
});

test("when a running image's scan passes max_scan_age_days, then the sweep opens a stale violation (cause scan_age)", async () => {
  const d = digestOf("ageing");
  await upload(d, report(new Date(now.getTime() - 5 * DAY)));
  await runInCluster("ageing", { cache: d });
  await app.http.put("/v1/policy").set(json()).send({ max_scan_age_days: 7 }).expect(200);
  expect(await openOnes("ageing")).toEqual([]);
  now = new Date(now.getTime() + 3 * DAY);
  await app.service.sweeper.sweep();
  expect(await openOnes("ageing")).toEqual([expect.objectContaining({ status: "stale", opened_cause: "scan_age" })]);
  // A fresh scan resolves it.
  await upload(d, report(new Date(now.getTime() - DAY)));
  expect(await openOnes("ageing")).toEqual([]);
  await app.http.put("/v1/policy").set(json()).send({}).expect(200);
});

test("when a change fails after its verdicts were written, then no violation changed either: one transaction", async () => {
  const d = digestOf("rollback");
  await upload(d, report(new Date(now.getTime() - DAY), "CVE-2026-0004"));
  await runInCluster("rollback", { svc: d });
  const before = await violations("rollback");
  // An exception whose creation fails after the re-evaluation: a hook registered by the test throws inside the transaction.
  app.service.deps.transactionHooks.onPolicyChange(async (_tx, change) => {
    if (change.kind === "exceptions_granted") throw new Error("injected failure");
  });
  const res = await app.http.post("/v1/exceptions").set(json()).send({ vulnerability_id: "CVE-2026-0004", image_digest: d, reason: "x" });
  expect(res.status).toBe(500);
  expect(await violations("rollback")).toEqual(before);
});
