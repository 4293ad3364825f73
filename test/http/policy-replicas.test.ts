import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { startTestApp, type TestApp } from "../support/test-app";
import { bearer, CENTOS_7, SECRETS, uploadFixture } from "./policy-support";

/**
 * Two replicas on one database, each with its own caches: once a policy or exception change has been answered by
 * one replica, the other answers with the new verdict, never a cached old one.
 */
let database: TestDatabase;
let a: TestApp;
let b: TestApp;
let secrets: string;
let centos: string;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await startTestApp({ database });
  b = await startTestApp({ database });
  secrets = await uploadFixture(a, SECRETS, { image: "registry.example.com/team/app:1.0" });
  centos = await uploadFixture(a, CENTOS_7, { image: "quay.io/centos/centos:7" });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await database?.drop();
});

const lookupOnB = async (digest: string) => (await b.http.get(`/v1/images/${digest}/compliance`).set(bearer(b.adminToken))).body;

describe("when one replica changes the policy or an exception", () => {
  test("then the other replica's next lookups answer the new verdict, cached ones included", async () => {
    for (let round = 0; round < 5; round++) {
      expect(await lookupOnB(centos)).toMatchObject({ is_compliant: true }); // cached on B now
      const tightened = await a.http.put("/v1/policy").set(bearer(a.adminToken)).send({ max_severity_counts: { LOW: 0 } });
      expect(tightened.status).toBe(200);
      expect(await lookupOnB(centos)).toMatchObject({ is_compliant: false, policy_version: tightened.body.version });
      await a.http.put("/v1/policy").set(bearer(a.adminToken)).send({}).expect(200);
    }
  });

  test("then an exception granted on one replica and withdrawn on it lets the image in and out on the other at once", async () => {
    for (let round = 0; round < 5; round++) {
      expect(await lookupOnB(secrets)).toMatchObject({ is_compliant: false });
      const granted = await a.http.post("/v1/exceptions").set(bearer(a.adminToken)).send({ vulnerability_id: "github-pat", image_digest: secrets, reason: "round" });
      expect(granted.status).toBe(201);
      expect(await lookupOnB(secrets)).toMatchObject({ is_compliant: true });
      await a.http.delete(`/v1/exceptions/${granted.body.id}`).set(bearer(a.adminToken)).expect(200);
      expect(await lookupOnB(secrets)).toMatchObject({ is_compliant: false });
    }
  });
});
