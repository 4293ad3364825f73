import { readFixtureJson } from "../support/fixtures";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/**
 * Two replicas on one database, each with its own verdict cache: what one replica commits, the other must answer
 * as soon as the writer's response has arrived. Correctness only; speed belongs in `npm run bench`.
 */
let database: TestDatabase;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await startTestApp({ database });
  b = await startTestApp({ database });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await database?.drop();
});

const auth = () => ({ Authorization: `Bearer ${a.adminToken}`, "Content-Type": "application/json" });

/** A report for `digest` scanned at `scannedAt`: compliant (alpine 3.10) or non-compliant (juice-shop, CRITICALs). */
function report(kind: "compliant" | "non_compliant", scannedAt: Date): string {
  const json = readFixtureJson(kind === "compliant" ? "alpine-310.json.golden" : "juice-shop-v10.2.0.json");
  json.CreatedAt = scannedAt.toISOString();
  json.Metadata.RepoDigests = [];
  return JSON.stringify(json);
}

async function lookup(app: TestApp, digest: string): Promise<{ status: string; is_compliant: boolean }> {
  const res = await app.http.get(`/v1/images/${digest}/compliance`).set({ Authorization: `Bearer ${app.adminToken}` });
  expect(res.status).toBe(200);
  return res.body;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

test("when an upload through replica A has returned, then replica B answers the new verdict, every time", async () => {
  const digest = fakeDigest("coherence-upload");
  const start = Date.UTC(2026, 0, 1);
  const first = await a.http.post(`/v1/reports?digest=${digest}`).set(auth()).send(report("compliant", new Date(start)));
  expect(first.status).toBe(201);
  let expected = "compliant";
  for (let round = 1; round <= 8; round++) {
    // Both replicas hold the current verdict in their caches…
    for (const app of [a, b]) {
      expect((await lookup(app, digest)).status).toBe(expected);
      expect((await lookup(app, digest)).status).toBe(expected);
    }
    expect(b.service.deps.verdictCache.get(digest, Date.now())?.answer.status).toBe(expected);
    // …then A stores a newer scan with the opposite verdict, and B is asked the moment A has answered.
    expected = expected === "compliant" ? "non_compliant" : "compliant";
    const upload = await a.http
      .post(`/v1/reports?digest=${digest}`)
      .set(auth())
      .send(report(expected as "compliant" | "non_compliant", new Date(start + round * 60_000)));
    expect(upload.status).toBe(201);
    expect(upload.body.images[0].status).toBe(expected);
    expect(await lookup(b, digest)).toMatchObject({ status: expected, is_compliant: expected === "compliant" });
  }
});

test("when a writer asks, then both replicas' listeners acknowledge the barrier", async () => {
  await expect(a.service.deps.changes!.awaitPropagation()).resolves.toBe(true);
  await expect(b.service.deps.changes!.awaitPropagation()).resolves.toBe(true);
});

test("when B's listener connection is killed and a change's notification is lost, then B never answers the old verdict after reconnecting", async () => {
  const digest = fakeDigest("coherence-reconnect");
  expect((await a.http.post(`/v1/reports?digest=${digest}`).set(auth()).send(report("compliant", new Date(Date.UTC(2026, 1, 1))))).status).toBe(201);
  expect((await lookup(b, digest)).status).toBe("compliant");
  expect((await lookup(b, digest)).status).toBe("compliant");
  expect(b.service.deps.verdictCache.get(digest, Date.now())).not.toBeNull();

  const listener = b.service.deps.changes!;
  const oldPid = listener.pid;
  expect(oldPid).not.toBeNull();
  const { rows } = await database.db.pool.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [oldPid]);
  expect(rows[0]!.ok).toBe(true);
  // The verdict changes while B cannot hear it: its notification is lost for B.
  await database.db.pool.query(
    `UPDATE image_scans SET is_compliant = false, status = 'non_compliant',
       reasons = '[{"code":"manual","message":"changed while B was not listening"}]'::jsonb
     WHERE image_digest = $1`,
    [digest],
  );
  await database.db.pool.query("SELECT pg_notify('scan_registry_verdicts', $1)", [digest]);

  await until(() => listener.isConnected && listener.pid !== null && listener.pid !== oldPid, "B's listener has reconnected");
  expect(await lookup(b, digest)).toMatchObject({ status: "non_compliant", is_compliant: false });
  expect(await lookup(b, digest)).toMatchObject({ status: "non_compliant", is_compliant: false });
  // And the cache works again after the reconnect: the answer is now cached afresh.
  expect(b.service.deps.verdictCache.get(digest, Date.now())?.answer.status).toBe("non_compliant");
});
