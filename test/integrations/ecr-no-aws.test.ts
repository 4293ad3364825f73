import http from "node:http";
import type { AddressInfo } from "node:net";
import { FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { HOST } from "./ecr-support";

/**
 * Issue 17 item 3: with no AWS configuration at all, a lookup by an ECR tag must not reach the SDK's default
 * credential chain, whose last link is the instance metadata endpoint of whatever machine the service runs on. The
 * metadata endpoint is a loopback server here (AWS_EC2_METADATA_SERVICE_ENDPOINT, which the SDK honours) that
 * records every request; the ECR endpoint is the fake ECR, which records every call.
 */
let fake: FakeEcr;
let app: TestApp;
let metadata: http.Server;
const metadataRequests: string[] = [];

beforeAll(async () => {
  for (const name of Object.keys(process.env)) if (name.startsWith("AWS_")) delete process.env[name];
  metadata = http.createServer((req, res) => {
    metadataRequests.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => metadata.listen(0, "127.0.0.1", resolve));
  fake = await new FakeEcr().start();
  Object.assign(process.env, {
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`,
    AWS_ENDPOINT_URL_ECR: fake.url,
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
  });
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
  metadata?.closeAllConnections();
  await new Promise<void>((resolve) => (metadata ? metadata.close(() => resolve()) : resolve()));
});

test("when the service has no AWS configuration, then lookups by ECR tag reach neither instance metadata nor ECR", async () => {
  const auth = { Authorization: `Bearer ${app.adminToken}` };
  const single = await app.http.get(`/v1/compliance?image=${encodeURIComponent(`${HOST}/team/app:v1`)}`).set(auth);
  expect(single.status).toBe(200);
  expect(single.body).toMatchObject({ image_digest: null, status: "not_scanned" });
  expect(single.body.reason).toMatch(/no AWS configuration and no ECR_REGISTRIES/);
  const batch = await app.http.post("/v1/compliance/check").set(auth).send({ images: [`${HOST}/team/app:v2`, "987654321098.dkr.ecr.us-east-1.amazonaws.com/x:y"] });
  expect(batch.status).toBe(200);
  expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(["not_scanned", "not_scanned"]);
  // Let anything the SDK might have started in the background arrive.
  await new Promise((r) => setTimeout(r, 500));
  expect(metadataRequests).toEqual([]);
  expect(fake.calls).toEqual([]);
  expect(app.service.deps.ecr!.clients.size).toBe(0);
});

test("when the service has no AWS configuration, then an EventBridge event is refused before any AWS call", async () => {
  const res = await app.http
    .post("/v1/integrations/ecr/events")
    .set({ Authorization: `Bearer ${app.adminToken}` })
    .send({ "detail-type": "ECR Image Scan", source: "aws.ecr", account: "123456789012", region: "eu-west-1", detail: { "repository-name": "team/app", "image-digest": `sha256:${"a".repeat(64)}` } });
  expect(res.status).toBe(422);
  expect(res.body.code).toBe("ecr_registry_not_configured");
  expect(metadataRequests).toEqual([]);
  expect(fake.calls).toEqual([]);
});
