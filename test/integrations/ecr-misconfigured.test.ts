import { FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { HOST, REGION } from "./ecr-support";

/** The service without AWS credentials (and, later, without a region): clear problems, never a 500, nothing written. */
let fake: FakeEcr;
let app: TestApp;

beforeAll(async () => {
  fake = await new FakeEcr().start();
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"]) {
    delete process.env[name];
  }
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_ECR: fake.url,
    AWS_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
  });
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

test("when the service has no AWS credentials, then an import is 503 ecr_credentials_missing and writes nothing", async () => {
  const before = await app.database.rowCounts();
  const res = await app.http.post("/v1/integrations/ecr/import").set(auth()).send({ repository: "team/app", image_tag: "v1" });
  expect(res.status).toBe(503);
  expect(res.body.code).toBe("ecr_credentials_missing");
  expect(res.body.detail).toMatch(/credentials/);
  expect(fake.calls).toHaveLength(0);
  expect(await app.database.rowCounts()).toEqual(before);
});

test("when the service has no AWS credentials, then a lookup by ECR tag is still 200 not_scanned, saying why", async () => {
  const res = await app.http.get(`/v1/compliance?image=${encodeURIComponent(`${HOST}/team/app:v1`)}`).set(auth());
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ is_compliant: false, status: "not_scanned", image_digest: null });
  expect(res.body.reason).toMatch(/could not be resolved/);
});
