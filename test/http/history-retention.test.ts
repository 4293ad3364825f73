import { pruneHistory } from "../../src/ingest/prune-history";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { runCli } from "../support/cli-process";

/**
 * History retention (RETENTION_SUPERSEDED_DAYS, `scan-registry prune`): the findings and raw copies of reports that
 * are no image's current report and were received before the retention period are deleted; everything else stays.
 * Reports are uploaded through the API; their receipt is moved back in time with SQL (the database's now() sets it).
 */

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env, timeoutMs: 120_000 });

/** A Trivy report naming `digests`, scanned at `scannedAt`, with `n` vulnerabilities (IDs unique to `seed`). */
function trivyReport(seed: string, digests: string[], scannedAt: string, n: number): string {
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: scannedAt,
    ArtifactName: `registry.example.com/retention/${seed}`,
    ArtifactType: "container_image",
    Metadata: { RepoDigests: digests.map((d) => `registry.example.com/retention/app@${d}`), RepoTags: [] },
    Results: [
      {
        Target: "app (alpine 3.19)",
        Class: "os-pkgs",
        Type: "alpine",
        Vulnerabilities: Array.from({ length: n }, (_, i) => ({
          VulnerabilityID: `CVE-2099-${seed}-${i}`,
          PkgName: `pkg-${i}`,
          InstalledVersion: "1.0",
          Severity: i % 7 === 0 ? "HIGH" : "LOW",
        })),
      },
    ],
  });
}

let app: TestApp;
const A = fakeDigest("retention-a");
const D = fakeDigest("retention-d");
const E = fakeDigest("retention-e");
const F = fakeDigest("retention-f");

async function upload(seed: string, digests: string[], scannedAt: string, n: number): Promise<string> {
  const res = await app.http.post("/v1/reports").set("Authorization", `Bearer ${app.adminToken}`).set("Content-Type", "application/json").send(trivyReport(seed, digests, scannedAt, n));
  expect(res.status).toBe(201);
  return res.body.report_id as string;
}

const q = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => app.database.db.pool.query<R>(sql, params).then((r) => r.rows);
const findingsOf = async (id: string) => Number((await q<{ n: string }>("SELECT count(*) AS n FROM findings WHERE report_id = $1", [id]))[0]!.n);
const rawOf = async (id: string) => Number((await q<{ n: string }>("SELECT count(*) AS n FROM scan_report_raw WHERE report_id = $1", [id]))[0]!.n);
const backdate = (ids: string[], days: number) => q("UPDATE scan_reports SET received_at = now() - make_interval(days => $2) WHERE id = ANY($1::uuid[])", [ids, days]);

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

describe("given superseded, current and recent reports", () => {
  let supersededOld: string; // A's first report: superseded 40 days ago -> pruned
  let currentOld: string; // A's current report, received 40 days ago -> stays
  let sharedOld: string; // superseded for D but still E's current report -> stays
  let dNewer: string;
  let recentSuperseded: string; // F's first report, superseded but received now -> stays
  let fCurrent: string;

  beforeAll(async () => {
    supersededOld = await upload("a1", [A], "2026-01-01T00:00:00Z", 2500);
    currentOld = await upload("a2", [A], "2026-01-02T00:00:00Z", 30);
    sharedOld = await upload("de", [D, E], "2026-01-01T00:00:00Z", 40);
    dNewer = await upload("d2", [D], "2026-01-03T00:00:00Z", 10);
    recentSuperseded = await upload("f1", [F], "2026-01-01T00:00:00Z", 20);
    fCurrent = await upload("f2", [F], "2026-01-02T00:00:00Z", 20);
    await backdate([supersededOld, currentOld, sharedOld, dNewer], 40);
  });

  test("when `scan-registry prune --older-than-days 30 --batch-size 1000` runs, then only the old superseded report loses its findings and copy, in batches of at most 1000, with progress on stderr", async () => {
    const before = { shared: await findingsOf(sharedOld), current: await findingsOf(currentOld), recent: await findingsOf(recentSuperseded) };
    const run = await cli(["prune", "--older-than-days", "30", "--batch-size", "1000"], { DATABASE_URL: app.database.url });
    expect(run.stderr).toContain("1000 findings per statement");
    expect(run.code).toBe(0);
    // One progress line per statement: 1000, 2000, then 2500 after the last (partial) batch.
    expect(run.stderr).toMatch(/1 reports, 1000 findings/);
    expect(run.stderr).toMatch(/1 reports, 2000 findings/);
    expect(run.stderr).toMatch(/1 reports, 2500 findings, 0 raw copies/);
    expect(run.stdout).toMatch(/Pruned 1 reports: 2500 findings and 1 raw copies/);

    expect(await findingsOf(supersededOld)).toBe(0);
    expect(await rawOf(supersededOld)).toBe(0);
    expect(await findingsOf(sharedOld)).toBe(before.shared);
    expect(await findingsOf(currentOld)).toBe(before.current);
    expect(await findingsOf(recentSuperseded)).toBe(before.recent);
    for (const id of [currentOld, sharedOld, dNewer, recentSuperseded, fCurrent]) expect(await rawOf(id)).toBe(1);
    const marks = await q<{ id: string; pruned_at: Date | null; finding_count: number }>("SELECT id, pruned_at, finding_count FROM scan_reports");
    expect(marks.filter((m) => m.pruned_at !== null).map((m) => m.id)).toEqual([supersededOld]);
    // The report row keeps its counts as history.
    expect(marks.find((m) => m.id === supersededOld)!.finding_count).toBe(2500);
  });

  test("when the pruned report's copy is asked for, then 410 report_pruned says so; its metadata still answers", async () => {
    const raw = await app.http.get(`/v1/reports/${supersededOld}/raw`).set("Authorization", `Bearer ${app.adminToken}`);
    expect(raw.status).toBe(410);
    expect(raw.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(raw.body.code ?? raw.body.type).toMatch(/report[-_]pruned/);
    expect(raw.body.detail).toMatch(/history retention/);
    const meta = await app.http.get(`/v1/reports/${supersededOld}`).set("Authorization", `Bearer ${app.adminToken}`);
    expect(meta.status).toBe(200);
    expect(meta.body.finding_count).toBe(2500);
    expect(meta.body.pruned_at).not.toBeNull();
    // A report that was never stored is still a 404, and a kept one downloads.
    expect((await app.http.get(`/v1/reports/00000000-0000-4000-8000-000000000000/raw`).set("Authorization", `Bearer ${app.adminToken}`)).status).toBe(404);
    expect((await app.http.get(`/v1/reports/${sharedOld}/raw`).set("Authorization", `Bearer ${app.adminToken}`)).status).toBe(200);
  });

  test("when prune runs again, then there is nothing left to do", async () => {
    const again = await cli(["prune", "--older-than-days", "30"], { DATABASE_URL: app.database.url });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Pruned 0 reports: 0 findings/);
  });

  test("when the pruned report's bytes are uploaded again for a new image, then it is stored whole again and current for it", async () => {
    const G = fakeDigest("retention-g");
    const res = await app.http
      .post(`/v1/reports?digest=${G}`)
      .set("Authorization", `Bearer ${app.adminToken}`)
      .set("Content-Type", "application/json")
      .send(trivyReport("a1", [A], "2026-01-01T00:00:00Z", 2500));
    expect(res.status).toBe(200);
    expect(res.body.report_id).toBe(supersededOld);
    expect(await findingsOf(supersededOld)).toBe(2500);
    expect(await rawOf(supersededOld)).toBe(1);
    expect((await q<{ pruned_at: Date | null }>("SELECT pruned_at FROM scan_reports WHERE id = $1", [supersededOld]))[0]!.pruned_at).toBeNull();
    const current = await q<{ latest_report_id: string }>("SELECT latest_report_id FROM image_scans WHERE image_digest = $1", [G]);
    expect(current[0]!.latest_report_id).toBe(supersededOld);
    // It is current now: a prune leaves it.
    const run = await cli(["prune", "--older-than-days", "30"], { DATABASE_URL: app.database.url });
    expect(run.stdout).toMatch(/Pruned 0 reports/);
    expect(await findingsOf(supersededOld)).toBe(2500);
  });
});

test("when prune is given a batch size outside 1000–5000 or no age, then it refuses and deletes nothing", async () => {
  const small = await cli(["prune", "--older-than-days", "1", "--batch-size", "999"], { DATABASE_URL: app.database.url });
  expect(small.code).not.toBe(0);
  expect(small.stderr).toMatch(/--batch-size: a whole number from 1000 to 5000/);
  const large = await cli(["prune", "--older-than-days", "1", "--batch-size", "5001"], { DATABASE_URL: app.database.url });
  expect(large.code).not.toBe(0);
  const none = await cli(["prune"], { DATABASE_URL: app.database.url });
  expect(none.code).not.toBe(0);
  expect(none.stderr).toMatch(/--older-than-days N or set RETENTION_SUPERSEDED_DAYS/);
  const env = await cli(["prune"], { DATABASE_URL: app.database.url, RETENTION_BATCH_SIZE: "100" });
  expect(env.code).not.toBe(0);
  expect(env.stderr).toMatch(/RETENTION_BATCH_SIZE: a whole number from 1000 to 5000/);
  // The options are checked by the configuration's own schema: the same limits and words as their variables.
  const zero = await cli(["prune", "--older-than-days", "0"], { DATABASE_URL: app.database.url });
  expect(zero.code).toBe(2);
  expect(zero.stderr).toMatch(/--older-than-days: a whole number from 1 to 36500/);
  const fraction = await cli(["prune", "--older-than-days", "1.5"], { DATABASE_URL: app.database.url });
  expect(fraction.stderr).toMatch(/--older-than-days: a whole number from 1 to 36500/);
  const envDays = await cli(["prune"], { DATABASE_URL: app.database.url, RETENTION_SUPERSEDED_DAYS: "36501" });
  expect(envDays.stderr).toMatch(/RETENTION_SUPERSEDED_DAYS: a whole number from 1 to 36500/);
});

test("when uploads run while a prune deletes a large history, then every upload succeeds and no current report loses a finding", async () => {
  // 30 superseded reports of 1,000 findings for one image, received 60 days ago; then uploads for other images
  // run beside the prune (each batch is its own short transaction, so they never wait for the whole run).
  const H = fakeDigest("retention-h");
  const old: string[] = [];
  for (let i = 0; i < 30; i++) old.push(await upload(`h${i}`, [H], `2026-02-${String(1 + (i % 28)).padStart(2, "0")}T${String(i % 24).padStart(2, "0")}:00:00Z`, 1000));
  const hCurrent = await upload("hcur", [H], "2026-03-15T00:00:00Z", 5);
  await backdate([...old, hCurrent], 60);
  const progress: number[] = [];
  const pruning = pruneHistory(app.database.db.pool, { olderThanDays: 30, batchSize: 1000, waitForLock: true, now: new Date(), onProgress: (p) => progress.push(p.lastBatch) });
  const uploads = Array.from({ length: 12 }, (_, i) => upload(`conc${i}`, [fakeDigest(`retention-conc-${i}`)], "2026-03-01T00:00:00Z", 50));
  const [outcome, ids] = await Promise.all([pruning, Promise.all(uploads)]);
  expect(ids).toHaveLength(12);
  expect(outcome.reports).toBe(30);
  expect(outcome.findings).toBe(30_000);
  expect(outcome.batches.every((b) => b > 0 && b <= 1000)).toBe(true);
  expect(Math.max(...progress)).toBeLessThanOrEqual(1000);
  for (const id of ids) expect(await findingsOf(id)).toBe(50);
  expect(await findingsOf(hCurrent)).toBe(5);
  for (const id of old) expect(await findingsOf(id)).toBe(0);
});

test("when two prunes run at once without waiting (two replicas' loops), then the work is done once (no finding deleted twice, none left)", async () => {
  const J = fakeDigest("retention-j");
  const old = [await upload("j1", [J], "2026-01-01T00:00:00Z", 3000), await upload("j2", [J], "2026-01-02T00:00:00Z", 3000)];
  await upload("j3", [J], "2026-01-03T00:00:00Z", 1);
  await backdate(old, 90);
  const run = () => pruneHistory(app.database.db.pool, { olderThanDays: 30, batchSize: 1000, waitForLock: false, now: new Date() });
  const [a, b] = await Promise.all([run(), run()]);
  expect(a.findings + b.findings).toBe(6000);
  expect(a.reports + b.reports).toBe(2);
  for (const id of old) expect(await findingsOf(id)).toBe(0);
});

test("when RETENTION_SUPERSEDED_DAYS is set on two replicas, then their background runs prune what the setting allows, once; unset, a replica has no retention loop", async () => {
  expect(app.service.historyPruner).toBeNull();
  const K = fakeDigest("retention-k");
  const old = await upload("k1", [K], "2026-01-01T00:00:00Z", 1500);
  const kept = await upload("k2", [K], "2026-01-02T00:00:00Z", 10);
  await backdate([old, kept], 45);
  const replicas = [
    await startTestApp({ database: app.database, env: { RETENTION_SUPERSEDED_DAYS: "30", RETENTION_BATCH_SIZE: "1000" } }),
    await startTestApp({ database: app.database, env: { RETENTION_SUPERSEDED_DAYS: "30", RETENTION_BATCH_SIZE: "1000" } }),
  ];
  try {
    const [a, b] = await Promise.all(replicas.map((r) => r.service.historyPruner!.run()));
    expect(a!.findings + b!.findings).toBe(1500);
    expect([...a!.batches, ...b!.batches].every((n) => n <= 1000)).toBe(true);
    expect(await findingsOf(old)).toBe(0);
    expect(await findingsOf(kept)).toBe(10);
  } finally {
    for (const r of replicas) await r.service.close();
  }
});
