import crypto from "node:crypto";
import { basicFinding, type FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { HOST, REGION, REGISTRY_ID, startFakeEcr } from "./ecr-support";

/**
 * Issue 17 items 3 and 7, with the real AWS SDK against the loopback fake ECR (which records every call): lookups,
 * EventBridge events and pass tags make AWS calls only for the registries the operator configured (ECR_REGISTRIES),
 * never for an unauthenticated lookup, and never hold one SDK client per region string a caller invents.
 */
const OTHER_CONFIGURED = "222222222222";
let fake: FakeEcr;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeEcr();
  app = await startTestApp({ env: { ECR_REGISTRIES: `${REGISTRY_ID}, ${OTHER_CONFIGURED}.eu-central-1` } });
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
const clients = () => app.service.deps.ecr!.clients;
const randomLabel = () => crypto.randomBytes(4).toString("hex").replace(/[0-9]/g, "x");

describe("when lookups name ECR hosts", () => {
  test("when 120 batch checks name 120 invented regions, then no AWS call is made and no SDK client is created", async () => {
    const token = await app.token("compliance:read");
    const before = fake.calls.length;
    const sizeBefore = clients().size;
    for (let i = 0; i < 120; i++) {
      const image = `123456789012.dkr.ecr.zz-${randomLabel()}-1.amazonaws.com/foo:bar`;
      const res = await app.http.post("/v1/compliance/check").set({ Authorization: `Bearer ${token}` }).send({ images: [image] });
      expect(res.status).toBe(200);
      expect(res.body.results[0]).toMatchObject({ image_digest: null, status: "not_scanned" });
    }
    expect(fake.calls.length).toBe(before);
    expect(clients().size).toBe(sizeBefore);
  });

  test("when a lookup names an ECR registry that is not configured, then no AWS call is made and the answer says why", async () => {
    const before = fake.calls.length;
    for (const host of ["999999999999.dkr.ecr.eu-west-1.amazonaws.com", `${OTHER_CONFIGURED}.dkr.ecr.eu-west-1.amazonaws.com`]) {
      const res = await app.http.get(`/v1/compliance?image=${encodeURIComponent(`${host}/team/web:1.0`)}`).set(auth());
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ image_digest: null, status: "not_scanned" });
      expect(res.body.reason).toMatch(/not an ECR registry this service resolves tags for \(ECR_REGISTRIES=/);
    }
    expect(fake.calls.length).toBe(before);
  });

  test("when a configured account is asked in many real-looking regions, then at most 16 SDK clients exist", async () => {
    const image = fake.addImage("team/bounded", { seed: "bounded-1", tags: ["1.0"] });
    const directions = ["east", "west", "north", "south", "central", "northeast", "southeast", "northwest", "southwest"];
    const regions = ["us", "eu", "ap", "sa", "ca"].flatMap((p) => directions.map((d) => `${p}-${d}-${1 + (p.length % 3)}`)).slice(0, 40);
    for (const region of regions) {
      const res = await app.http.get(`/v1/compliance?image=${encodeURIComponent(`${REGISTRY_ID}.dkr.ecr.${region}.amazonaws.com/team/bounded:1.0`)}`).set(auth());
      expect(res.status).toBe(200);
      expect(res.body.image_digest).toBe(image.digest); // the fake answers for every region: it was really asked
      expect(clients().size).toBeLessThanOrEqual(16);
    }
  });

  test("when the configured registry is looked up by tag, then it is resolved (the allow list lets it through)", async () => {
    const image = fake.addImage("team/allowed", { seed: "allowed-1", tags: ["2.0"], findings: [basicFinding(1, "LOW")] });
    const res = await app.http.get(`/v1/compliance?image=${encodeURIComponent(`${HOST}/team/allowed:2.0`)}`).set(auth());
    expect(res.body.image_digest).toBe(image.digest);
  });
});

describe("when the lookup is unauthenticated (LOOKUP_AUTH=none)", () => {
  let open: TestApp;
  beforeAll(async () => {
    open = await startTestApp({ env: { LOOKUP_AUTH: "none", ECR_REGISTRIES: REGISTRY_ID } });
  });
  afterAll(async () => open?.close());

  test("then a tag on a configured ECR registry is not resolved through AWS: 200 not_scanned, no call", async () => {
    fake.addImage("team/open", { seed: "open-1", tags: ["1.0"] });
    const before = fake.calls.length;
    const single = await open.http.get(`/v1/compliance?image=${encodeURIComponent(`${HOST}/team/open:1.0`)}`);
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ image_digest: null, status: "not_scanned" });
    const batch = await open.http.post("/v1/compliance/check").send({ images: [`${HOST}/team/open:1.0`, `${REGISTRY_ID}.dkr.ecr.zz-x-1.amazonaws.com/a:b`] });
    expect(batch.status).toBe(200);
    expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(["not_scanned", "not_scanned"]);
    expect(fake.calls.length).toBe(before);
  });
});

describe("when EventBridge events arrive", () => {
  const scanEvent = (overrides: { account?: unknown; region?: unknown; repository?: unknown; digest?: unknown; tags?: unknown } = {}) => ({
    version: "0",
    "detail-type": "ECR Image Scan",
    source: "aws.ecr",
    account: "account" in overrides ? overrides.account : REGISTRY_ID,
    region: "region" in overrides ? overrides.region : REGION,
    detail: {
      "scan-status": "COMPLETE",
      "repository-name": "repository" in overrides ? overrides.repository : "team/events",
      "image-digest": "digest" in overrides ? overrides.digest : `sha256:${"e".repeat(64)}`,
      "image-tags": "tags" in overrides ? overrides.tags : ["latest"],
    },
  });

  test.each<[string, Record<string, unknown>, string]>([
    ["an account that is not 12 digits", { account: "11111111111x" }, "account"],
    ["an invented region", { region: "zz-evil-9" }, "region"],
    ["a repository name outside ECR's pattern", { repository: '../../x y"<script>' }, "detail.repository-name"],
    ["an upper-case repository name", { repository: "Team/App" }, "detail.repository-name"],
    ["a digest that is not sha256", { digest: "sha256:XYZ" }, "detail.image-digest"],
    ["a tag outside the tag rules", { tags: ["-bad tag"] }, "detail.image-tags.0"],
    ["no account at all", { account: undefined }, "account"],
  ])("when an event has %s, then 422 invalid_event names the field, no AWS call is made, nothing is written", async (_what, overrides, path) => {
    const before = fake.calls.length;
    const rows = await app.database.rowCounts();
    const res = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(scanEvent(overrides));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("invalid_event");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(fake.calls.length).toBe(before);
    expect(await app.database.rowCounts()).toEqual(rows);
  });

  test("when an event names a well-formed account that is not configured, then 422 ecr_registry_not_configured and no AWS call", async () => {
    const before = fake.calls.length;
    const res = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(scanEvent({ account: "111111111111" }));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("ecr_registry_not_configured");
    expect(res.body.errors).toEqual([{ path: "account", message: expect.stringContaining("111111111111 in eu-west-1 is not a configured ECR registry") }]);
    // An account configured for one region only is refused in another.
    const wrongRegion = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(scanEvent({ account: OTHER_CONFIGURED, region: "eu-west-1" }));
    expect(wrongRegion.status).toBe(422);
    expect(wrongRegion.body.code).toBe("ecr_registry_not_configured");
    expect(fake.calls.length).toBe(before);
  });

  test("when a batch holds one valid event and one for an unconfigured registry, then nothing is imported and no AWS call is made", async () => {
    const image = fake.addImage("team/events", { seed: "batch-1", tags: ["latest"], findings: [basicFinding(1, "LOW")] });
    const before = fake.calls.length;
    const rows = await app.database.rowCounts();
    const res = await app.http
      .post("/v1/integrations/ecr/events")
      .set(auth())
      .send([scanEvent({ digest: image.digest }), scanEvent({ account: "333333333333", digest: image.digest })]);
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: "1.account", message: expect.any(String) }]);
    expect(fake.calls.length).toBe(before);
    expect(await app.database.rowCounts()).toEqual(rows);
    // The valid event alone is imported.
    const ok = await app.http.post("/v1/integrations/ecr/events").set(auth()).send(scanEvent({ digest: image.digest }));
    expect(ok.status).toBe(201);
  });
});
