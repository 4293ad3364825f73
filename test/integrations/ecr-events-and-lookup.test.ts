import { basicFinding, enhancedFinding, type FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { HOST, MAX_ATTEMPTS, REGION, REGISTRY_ID, startFakeEcr } from "./ecr-support";

let fake: FakeEcr;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeEcr();
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
const lookup = (image: string) => app.http.get(`/v1/compliance?image=${encodeURIComponent(image)}`).set(auth());

describe("admission lookups by an ECR tag that no stored report names", () => {
  test("when the tag resolves to an imported digest, then the answer is that digest's verdict, and the resolution is reused", async () => {
    const image = fake.addImage("team/web", { seed: "web-1", tags: ["1.0"], findings: [basicFinding(1, "LOW")] });
    await app.http.post("/v1/integrations/ecr/import").set(auth()).send({ repository: "team/web", image_digest: image.digest }).expect(201);
    fake.addImage("team/web", { seed: "web-2", tags: ["2.0"], findings: [] }); // never imported
    // The stored report names 1.0 (DescribeImages gave the tags at import), so ask for a tag it does not name:
    image.tags.push("stable");
    const before = fake.callsOf("DescribeImages").length;
    const res = await lookup(`${HOST}/team/web:stable`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ image_digest: image.digest, is_compliant: true, status: "compliant" });
    const described = fake.callsOf("DescribeImages").slice(before);
    expect(described).toEqual([{ operation: "DescribeImages", body: { registryId: REGISTRY_ID, repositoryName: "team/web", imageIds: [{ imageTag: "stable" }] } }]);
    await lookup(`${HOST}/team/web:stable`).expect(200);
    expect(fake.callsOf("DescribeImages").length).toBe(before + 1);
  });

  test("when the tag resolves to a digest with no report, then 200 not_scanned for that digest", async () => {
    const image = fake.addImage("team/web", { seed: "web-3", tags: ["3.0"] });
    const res = await lookup(`${HOST}/team/web:3.0`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ image_digest: image.digest, is_compliant: false, status: "not_scanned" });
  });

  test("when ECR fails, then 200 not_scanned saying the tag could not be resolved, and the failure is not remembered", async () => {
    const image = fake.addImage("team/web", { seed: "web-4", tags: ["4.0"] });
    fake.failNext("DescribeImages", MAX_ATTEMPTS, "ServerException", "internal error", 500);
    const res = await lookup(`${HOST}/team/web:4.0`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ image_digest: null, is_compliant: false, status: "not_scanned" });
    expect(res.body.reason).toMatch(/could not be resolved/);
    expect(res.body.reason).toMatch(/ServerException/);
    const again = await lookup(`${HOST}/team/web:4.0`);
    expect(again.body.image_digest).toBe(image.digest);
  });

  test("when the tag does not exist in ECR, then 200 not_scanned naming the tag", async () => {
    const res = await lookup(`${HOST}/team/web:nope`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ image_digest: null, status: "not_scanned" });
    expect(res.body.reason).toMatch(/no scan report names/);
  });

  test("when the host is not ECR, then ECR is not asked", async () => {
    const before = fake.calls.length;
    const res = await lookup("registry.example.com/team/web:1.0");
    expect(res.body.status).toBe("not_scanned");
    expect(fake.calls.length).toBe(before);
  });
});

describe("EventBridge events from an API destination", () => {
  test("when an ECR Image Scan event arrives, then the image it names is imported", async () => {
    const image = fake.addImage("team/events", { seed: "ev-1", tags: ["latest"], findings: [basicFinding(1, "CRITICAL")] });
    const event = {
      version: "0",
      id: "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
      "detail-type": "ECR Image Scan",
      source: "aws.ecr",
      account: REGISTRY_ID,
      time: "2026-11-01T10:05:00Z",
      region: REGION,
      resources: [`arn:aws:ecr:${REGION}:${REGISTRY_ID}:repository/team/events`],
      detail: {
        "scan-status": "COMPLETE",
        "repository-name": "team/events",
        "finding-severity-counts": { CRITICAL: 1 },
        "image-digest": image.digest,
        "image-tags": ["latest"],
      },
    };
    const res = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(event);
    expect(res.status).toBe(201);
    expect(res.body.results).toHaveLength(1);
    expect(res.body.results[0]).toMatchObject({ event: "ECR Image Scan", format: "ecr", summary: { critical: 1 } });
    expect(res.body.results[0].images[0]).toMatchObject({ image_digest: image.digest, repository: `${HOST}/team/events`, is_compliant: false });
  });

  test("when an Inspector2 Scan event names the repository by ARN (and arrives in an array), then the image is imported", async () => {
    const image = fake.addImage("team/inspector/app", {
      seed: "ev-2",
      tags: ["v7"],
      enhancedFindings: [enhancedFinding("CVE-2026-7777", "HIGH", [{ name: "glibc", version: "2.35", fixedInVersion: "2.35-0ubuntu3.4" }])],
      scanStatus: { status: "ACTIVE" },
    });
    const arn = `arn:aws:ecr:${REGION}:${REGISTRY_ID}:repository/team/inspector/app`;
    const event = {
      version: "0",
      id: "739c0d3c-4f02-85c7-5a88-94a9EXAMPLE",
      "detail-type": "Inspector2 Scan",
      source: "aws.inspector2",
      account: REGISTRY_ID,
      time: "2026-11-01T10:06:00Z",
      region: REGION,
      resources: [`${arn}/${image.digest}`],
      detail: {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": arn,
        "finding-severity-counts": { CRITICAL: 0, HIGH: 1, MEDIUM: 0, TOTAL: 1 },
        "image-digest": image.digest,
        "image-tags": ["v7"],
      },
    };
    const res = await app.http.post("/v1/integrations/ecr/events").set(auth()).send([event]);
    expect(res.status).toBe(201);
    expect(res.body.results[0]).toMatchObject({ event: "Inspector2 Scan", summary: { high: 1, fixable: 1 } });
    expect(res.body.results[0].images[0]).toMatchObject({ image_digest: image.digest, repository: `${HOST}/team/inspector/app`, tags: ["v7"] });
    const [call] = fake.callsOf("DescribeImageScanFindings").slice(-1);
    expect(call!.body).toMatchObject({ registryId: REGISTRY_ID, repositoryName: "team/inspector/app" });
  });

  test("when the Inspector event carries the digest only in its resource ARN, then that digest is used", async () => {
    const image = fake.addImage("team/inspector/app", { seed: "ev-3", enhancedFindings: [], scanStatus: { status: "ACTIVE" } });
    const arn = `arn:aws:ecr:${REGION}:${REGISTRY_ID}:repository/team/inspector/app`;
    const res = await app.http
      .post("/v1/integrations/ecr/events")
      .set(auth())
      .send({ "detail-type": "Inspector2 Scan", source: "aws.inspector2", region: REGION, resources: [`${arn}/${image.digest}`], detail: { "repository-name": arn } });
    expect(res.status).toBe(201);
    expect(res.body.results[0].images[0]).toMatchObject({ image_digest: image.digest, is_compliant: true });
  });

  test("when an event of another kind arrives, then 422 says what was received and nothing is written", async () => {
    const before = await app.database.rowCounts();
    const res = await app.http
      .post("/v1/integrations/ecr/events")
      .set(auth())
      .send({ "detail-type": "ECR Image Action", source: "aws.ecr", detail: { "action-type": "PUSH", result: "SUCCESS" } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("unsupported_event");
    expect(res.body.detail).toContain("ECR Image Action");
    expect(res.body.detail).toContain("aws.ecr");
    expect(await app.database.rowCounts()).toEqual(before);
  });
});
