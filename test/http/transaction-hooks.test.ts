import type { PolicyChange, StoredVerdictBatch } from "../../src/policy/transaction-hooks";
import { startTestApp, type TestApp } from "../support/test-app";
import { ALPINE, bearer, JUICE_SHOP, putPolicy, uploadFixture } from "./policy-support";

/**
 * The use cases run the composition root's same-transaction hooks (src/policy/transaction-hooks.ts): the place where
 * runtime violations and outbox events are written with the verdict change that causes them.
 */
let app: TestApp;
const batches: Array<Pick<StoredVerdictBatch, "cause" | "policyVersion"> & { digests: string[] }> = [];
const changes: PolicyChange[] = [];
let failNext: "verdicts" | "change" | null = null;

beforeAll(async () => {
  app = await startTestApp();
  app.service.deps.transactionHooks
    .onVerdictsStored(async (batch) => {
      // The hook runs inside the writing transaction: it sees the stored verdicts through `tx`.
      const { rows } = await batch.tx.query<{ n: number }>("SELECT count(*)::int AS n FROM image_scans WHERE image_digest = ANY($1::text[]) AND policy_version = $2", [
        batch.images.map((i) => i.imageDigest),
        batch.policyVersion,
      ]);
      expect(rows[0]!.n).toBe(batch.images.length);
      batches.push({ cause: batch.cause, policyVersion: batch.policyVersion, digests: batch.images.map((i) => i.imageDigest) });
      if (failNext === "verdicts") throw new Error("hook refused the verdicts");
    })
    .onPolicyChange(async (_tx, change) => {
      changes.push(change);
      if (failNext === "change") throw new Error("hook refused the change");
    });
});
afterAll(async () => app.close());
beforeEach(() => {
  batches.length = 0;
  changes.length = 0;
  failNext = null;
});

test("when a report is uploaded, then the hook sees its image's verdict in the upload's transaction", async () => {
  const digest = await uploadFixture(app, ALPINE, { image: "docker.io/library/alpine:3.10" });
  expect(batches).toEqual([{ cause: "ingest", policyVersion: 1, digests: [digest] }]);
  expect(changes).toEqual([]);
});

test("when the policy changes, then the hooks see the re-evaluated images and the new version before commit", async () => {
  const juice = await uploadFixture(app, JUICE_SHOP);
  batches.length = 0;
  const res = await putPolicy(app, { max_severity_counts: { CRITICAL: 5 } });
  expect(res.status).toBe(200);
  expect(batches).toHaveLength(1);
  expect(batches[0]).toMatchObject({ cause: "policy", policyVersion: res.body.version });
  expect(batches[0]!.digests).toContain(juice);
  expect(changes).toEqual([{ kind: "policy_set", version: res.body.version, createdBy: expect.any(String) }]);
});

test("when an exception is granted and withdrawn, then each is one change of its own kind", async () => {
  const granted = await app.http.post("/v1/exceptions").set(bearer(app.adminToken)).send({ vulnerability_id: "CVE-2099-7777", reason: "hook test" });
  expect(granted.status).toBe(201);
  const withdrawn = await app.http.delete(`/v1/exceptions/${granted.body.id}`).set(bearer(app.adminToken));
  expect(withdrawn.status).toBe(200);
  expect(changes).toEqual([
    { kind: "exceptions_granted", exceptionIds: [granted.body.id] },
    { kind: "exception_revoked", exceptionId: granted.body.id },
  ]);
});

test.each(["verdicts", "change"] as const)("when a %s hook fails, then the policy change is rolled back whole", async (which) => {
  const before = (await app.http.get("/v1/policy").set(bearer(app.adminToken))).body.version;
  failNext = which;
  const res = await putPolicy(app, { max_severity_counts: { CRITICAL: 1 } });
  expect(res.status).toBe(500);
  failNext = null;
  expect((await app.http.get("/v1/policy").set(bearer(app.adminToken))).body.version).toBe(before);
  const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM image_scans WHERE policy_version > $1", [before]);
  expect(rows[0].n).toBe(0);
});

test("when an upload's hook fails, then nothing of the upload is stored", async () => {
  failNext = "verdicts";
  const res = await app.http
    .post("/v1/reports?digest=sha256:" + "7".repeat(64))
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(JSON.stringify({ SchemaVersion: 2, ArtifactName: "hook-test", ArtifactType: "container_image", Results: [] }));
  expect(res.status).toBe(500);
  const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM image_scans WHERE image_digest = $1", ["sha256:" + "7".repeat(64)]);
  expect(rows[0].n).toBe(0);
});
