import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

let app: TestApp;
const compliant = fakeDigest("lookup-compliant");
let juiceDigest: string;

beforeAll(async () => {
  app = await startTestApp();
  const auth = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post(`/v1/reports?digest=${compliant}&image=registry.example.com:5000/team/alpine:3.10`).set(auth).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").set(auth).send(readFixture("juice-shop-v10.2.0.json").toString()).expect(201);
  juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
});
afterAll(async () => app.close());

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

test("GET /v1/images/{digest}/compliance answers the stored verdict, small JSON with Content-Length", async () => {
  const res = await app.http.get(`/v1/images/${compliant}/compliance`).set(auth());
  expect(res.status).toBe(200);
  expect(res.headers["content-length"]).toBeDefined();
  expect(res.body).toMatchObject({ image_digest: compliant, is_compliant: true, status: "compliant", reasons: [], policy_version: 1 });
  expect(typeof res.body.evaluated_at).toBe("string");
  const bad = await app.http.get(`/v1/images/${juiceDigest}/compliance`).set(auth());
  expect(bad.body).toMatchObject({ is_compliant: false, status: "non_compliant" });
  expect(bad.body.reason).toMatch(/CRITICAL/);
});

test("an unknown digest is HTTP 200 not_scanned, a malformed one 400", async () => {
  const unknown = await app.http.get(`/v1/images/${fakeDigest("nobody")}/compliance`).set(auth());
  expect(unknown.status).toBe(200);
  expect(unknown.body).toMatchObject({ is_compliant: false, status: "not_scanned" });
  for (const bad of ["sha256:abc", "sha256:" + "A".repeat(64), "md5:" + "a".repeat(64)]) {
    const res = await app.http.get(`/v1/images/${encodeURIComponent(bad)}/compliance`).set(auth());
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_digest");
  }
});

test("GET /v1/compliance?image= resolves a digest reference and a tag named by a stored report", async () => {
  const byDigest = await app.http.get("/v1/compliance").query({ image: `anything/else@${compliant}` }).set(auth());
  expect(byDigest.body).toMatchObject({ image_digest: compliant, is_compliant: true });
  const byTag = await app.http.get("/v1/compliance").query({ image: "registry.example.com:5000/team/alpine:3.10" }).set(auth());
  expect(byTag.body).toMatchObject({ image_digest: compliant, is_compliant: true });
  const hub = await app.http.get("/v1/compliance").query({ image: "bkimminich/juice-shop:v10.2.0" }).set(auth());
  expect(hub.body).toMatchObject({ image_digest: juiceDigest, is_compliant: false });
  const unknownTag = await app.http.get("/v1/compliance").query({ image: "nginx" }).set(auth());
  expect(unknownTag.status).toBe(200);
  expect(unknownTag.body).toMatchObject({ image_digest: null, is_compliant: false, status: "not_scanned" });
  const malformed = await app.http.get("/v1/compliance").query({ image: "UPPER/Case::" }).set(auth());
  expect(malformed.status).toBe(400);
});

test("POST /v1/compliance/check works without a Content-Type header, as Kyverno sends it", async () => {
  const body = JSON.stringify({ images: [`x/y@${compliant}`, `bkimminich/juice-shop@${juiceDigest}`, "nginx:1.25"], namespace: "prod" });
  const res = await app.http.post("/v1/compliance/check").set(auth()).unset("Content-Type").send(Buffer.from(body));
  expect(res.status).toBe(200);
  expect(res.body.allowed).toBe(false);
  expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(["compliant", "non_compliant", "not_scanned"]);
  const ok = await app.http.post("/v1/compliance/check").set(auth()).send({ images: [compliant] });
  expect(ok.body).toMatchObject({ allowed: true });
  const bad = await app.http.post("/v1/compliance/check").set(auth()).send("[1,2]");
  expect(bad.status).toBe(400);
});

test("the analyst query from the deployment guide returns exactly one row, the current verdict", async () => {
  const { rows } = await app.database.db.pool.query("SELECT is_compliant FROM image_scans WHERE image_digest = $1", [juiceDigest]);
  expect(rows).toEqual([{ is_compliant: false }]);
});

test("every lookup answer is written to admission_decisions", async () => {
  await app.http.get(`/v1/images/${compliant}/compliance`).query({ namespace: "audit-ns", image: "team/alpine:3.10" }).set(auth());
  await app.flushDecisions();
  const { rows } = await app.database.db.pool.query("SELECT * FROM admission_decisions WHERE namespace = 'audit-ns'");
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ image_digest: compliant, image_ref: "team/alpine:3.10", is_compliant: true, status: "compliant", policy_version: 1 });
});
