import { basicFinding, DOCKER_MANIFEST, OCI_INDEX, type FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { fakeDigest } from "../support/trivy-counts";
import { HOST, startFakeEcr } from "./ecr-support";

const PASS_TAG = "scan-passed";
let fake: FakeEcr;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeEcr();
  app = await startTestApp({ env: { ECR_PASS_TAG: PASS_TAG } });
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
const importImage = (body: Record<string, unknown>) => app.http.post("/v1/integrations/ecr/import").set(auth()).send(body);
const clean = () => [basicFinding(1, "LOW"), basicFinding(2, "MEDIUM")];

test("when an imported image is compliant, then it is tagged with the exact manifest and media type", async () => {
  const image = fake.addImage("team/pass", { seed: "pass-1", tags: ["v1"], findings: clean(), mediaType: OCI_INDEX });
  const res = await importImage({ repository: "team/pass", image_digest: image.digest });
  expect(res.status).toBe(201);
  expect(res.body.images[0].is_compliant).toBe(true);
  expect(res.body.pass_tag).toEqual({ image_digest: image.digest, tag: PASS_TAG, applied: true });
  const [get] = fake.callsOf("BatchGetImage").slice(-1);
  expect(get!.body.acceptedMediaTypes).toEqual(expect.arrayContaining([DOCKER_MANIFEST, OCI_INDEX, "application/vnd.oci.image.manifest.v1+json"]));
  const [put] = fake.callsOf("PutImage").slice(-1);
  expect(put!.body).toMatchObject({ repositoryName: "team/pass", imageTag: PASS_TAG, imageManifest: image.manifest, imageManifestMediaType: OCI_INDEX, imageDigest: image.digest });
  expect(image.tags).toEqual(["v1", PASS_TAG]);
});

test("when the image already carries the tag, then ImageAlreadyExistsException counts as applied (idempotent)", async () => {
  const image = fake.addImage("team/pass", { seed: "pass-2", findings: clean() });
  expect((await importImage({ repository: "team/pass", image_digest: image.digest })).body.pass_tag.applied).toBe(true);
  const puts = fake.callsOf("PutImage").length;
  const again = await importImage({ repository: "team/pass", image_digest: image.digest });
  expect(again.status).toBe(200);
  expect(again.body.duplicate).toBe(true);
  expect(again.body.pass_tag).toEqual({ image_digest: image.digest, tag: PASS_TAG, applied: true });
  expect(fake.callsOf("PutImage").length).toBe(puts + 1); // asked again, ECR said it exists
  expect(image.tags).toEqual([PASS_TAG]);
});

test("when the repository is immutable and the tag already names this digest, then it is applied", async () => {
  fake.addRepository("team/immutable-same", { immutable: true });
  const image = fake.addImage("team/immutable-same", { seed: "imm-same", tags: [PASS_TAG], findings: clean() });
  fake.failNext("PutImage", 1, "ImageTagAlreadyExistsException", "The image tag 'scan-passed' already exists and cannot be overwritten because the repository is immutable.");
  const res = await importImage({ repository: "team/immutable-same", image_digest: image.digest });
  expect(res.body.pass_tag).toEqual({ image_digest: image.digest, tag: PASS_TAG, applied: true });
  const [describe] = fake.callsOf("DescribeImages").slice(-1);
  expect(describe!.body.imageIds).toEqual([{ imageTag: PASS_TAG }]);
});

test("when the repository is immutable and the tag names another digest, then not applied, with the reason", async () => {
  fake.addRepository("team/immutable-other", { immutable: true });
  const holder = fake.addImage("team/immutable-other", { seed: "imm-holder", tags: [PASS_TAG] });
  const image = fake.addImage("team/immutable-other", { seed: "imm-new", tags: ["v2"], findings: clean() });
  holder.tags = [PASS_TAG]; // addImage moved nothing: different tags
  const res = await importImage({ repository: "team/immutable-other", image_digest: image.digest });
  expect(res.status).toBe(201);
  expect(res.body.images[0].is_compliant).toBe(true);
  expect(res.body.pass_tag).toMatchObject({ image_digest: image.digest, tag: PASS_TAG, applied: false });
  expect(res.body.pass_tag.reason).toContain(holder.digest);
  expect(res.body.pass_tag.reason).toMatch(/immutable/);
  expect(holder.tags).toEqual([PASS_TAG]);
});

test("when the image is not compliant, then it is not tagged and the answer says why", async () => {
  const image = fake.addImage("team/pass", { seed: "pass-bad", findings: [basicFinding(9, "CRITICAL")] });
  const puts = fake.callsOf("PutImage").length;
  const res = await importImage({ repository: "team/pass", image_digest: image.digest });
  expect(res.body.pass_tag).toEqual({ image_digest: image.digest, tag: PASS_TAG, applied: false, reason: "the image is non_compliant" });
  expect(fake.callsOf("PutImage").length).toBe(puts);
  expect(image.tags).toEqual([]);
});

test("when tagging fails in ECR, then the import still stands and the answer reports the failure", async () => {
  const image = fake.addImage("team/pass", { seed: "pass-denied", findings: clean() });
  fake.failNext("PutImage", 1, "AccessDeniedException", "not authorized to perform: ecr:PutImage");
  const res = await importImage({ repository: "team/pass", image_digest: image.digest });
  expect(res.status).toBe(201);
  expect(res.body.pass_tag).toMatchObject({ applied: false });
  expect(res.body.pass_tag.reason).toMatch(/AccessDeniedException/);
});

test("when a Trivy report for an image on an ECR host is uploaded and compliant, then that image is tagged too", async () => {
  const image = fake.addImage("team/ci", { seed: "ci-1", tags: ["build-7"] });
  const res = await app.http
    .post(`/v1/reports?image=${encodeURIComponent(`${HOST}/team/ci:build-7`)}&digest=${image.digest}`)
    .set({ ...auth(), "Content-Type": "application/json" })
    .send(readFixture("alpine-310.json.golden").toString("utf8"));
  expect(res.status).toBe(201);
  expect(res.body.images[0]).toMatchObject({ image_digest: image.digest, repository: `${HOST}/team/ci`, is_compliant: true });
  expect(res.body.pass_tags).toEqual([{ image_digest: image.digest, tag: PASS_TAG, applied: true }]);
  expect(image.tags).toEqual(["build-7", PASS_TAG]);
});

test("when a report names no ECR image, then ECR is not called and the answer has no pass_tags", async () => {
  const before = fake.calls.length;
  const res = await app.http
    .post(`/v1/reports?image=${encodeURIComponent("registry.example.com/team/ci:1")}&digest=${fakeDigest("not-ecr")}`)
    .set({ ...auth(), "Content-Type": "application/json" })
    .send({ ...readFixtureJson<Record<string, unknown>>("alpine-310.json.golden"), ReportID: "another-upload" });
  expect(res.status).toBe(201);
  expect(res.body.pass_tags).toBeUndefined();
  expect(fake.calls.length).toBe(before);
});
