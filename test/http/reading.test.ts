import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { countTrivyJson, fakeDigest } from "../support/trivy-counts";

let app: TestApp;
let juiceDigest: string;
const alpine = fakeDigest("reading-alpine");
const centos = fakeDigest("reading-centos");

beforeAll(async () => {
  app = await startTestApp();
  const h = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  await app.http.post("/v1/reports").set(h).send(readFixture("juice-shop-v10.2.0.json").toString()).expect(201);
  await app.http.post(`/v1/reports?digest=${alpine}&image=ghcr.io/acme/alpine:3.10`).set(h).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  await app.http.post(`/v1/reports?digest=${centos}&image=ghcr.io/acme/centos:7`).set(h).send(readFixture("centos-7.json.golden").toString()).expect(201);
  juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
});
afterAll(async () => app.close());

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

test("when images are listed with a filter, then only matching images come back, page by page", async () => {
  const all = await app.http.get("/v1/images").set(auth());
  expect(all.status).toBe(200);
  expect(all.body.items).toHaveLength(3);
  const bad = await app.http.get("/v1/images").query({ status: "non_compliant" }).set(auth());
  expect(bad.body.items.map((i: { image_digest: string }) => i.image_digest)).toEqual([juiceDigest]);
  const byRepo = await app.http.get("/v1/images").query({ repository: "ghcr.io/acme/centos" }).set(auth());
  expect(byRepo.body.items.map((i: { image_digest: string }) => i.image_digest)).toEqual([centos]);
  const byTag = await app.http.get("/v1/images").query({ q: "3.10" }).set(auth());
  expect(byTag.body.items.map((i: { image_digest: string }) => i.image_digest)).toEqual([alpine]);
  // Typed % and _ are searched for as characters: "acme/_entos" names no repository, though _ matches any one in LIKE.
  for (const q of ["acme/_entos", "acme%centos", "%"]) {
    expect((await app.http.get("/v1/images").query({ q }).set(auth())).body.items).toEqual([]);
  }
  const byRepoPart = await app.http.get("/v1/images").query({ q: "acme/cent" }).set(auth());
  expect(byRepoPart.body.items.map((i: { image_digest: string }) => i.image_digest)).toEqual([centos]);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: Array<{ image_digest: string }>; next_cursor: string | null } } = await app.http
      .get("/v1/images")
      .query(cursor ? { limit: 1, cursor } : { limit: 1 })
      .set(auth());
    seen.push(...page.body.items.map((i) => i.image_digest));
    cursor = page.body.next_cursor;
  } while (cursor);
  expect(seen).toEqual(all.body.items.map((i: { image_digest: string }) => i.image_digest));
  expect((await app.http.get("/v1/images").query({ status: "bogus" }).set(auth())).status).toBe(422);
});

test("when an image's findings are filtered, then the counts match the raw report", async () => {
  const raw = readFixtureJson("juice-shop-v10.2.0.json");
  const counts = countTrivyJson(raw);
  const critical = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ severity: "CRITICAL", kind: "vulnerability" }).set(auth());
  expect(critical.status).toBe(200);
  expect(critical.body.items).toHaveLength(counts.critical);
  expect(critical.body.items[0]).toMatchObject({ severity: "CRITICAL", excepted: false, title: expect.any(String) });
  const secrets = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ kind: "secret" }).set(auth());
  expect(secrets.body.items).toHaveLength(counts.secrets);
  const fixable = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ fixable: "true", kind: "vulnerability" }).set(auth());
  expect(fixable.body.items).toHaveLength(counts.fixable);
});

test("when a vulnerability is asked for, then every image that has it now is listed", async () => {
  const raw = readFixtureJson("centos-7.json.golden");
  const id = raw.Results[0].Vulnerabilities[0].VulnerabilityID as string;
  const res = await app.http.get(`/v1/vulnerabilities/${id}`).set(auth());
  expect(res.status).toBe(200);
  expect(res.body.id).toBe(id);
  expect(res.body.images.map((i: { image_digest: string }) => i.image_digest)).toContain(centos);
  expect((await app.http.get("/v1/vulnerabilities/CVE-0000-00000").set(auth())).status).toBe(404);
});

test("when an image's findings are read page by page, then the pages join up to the whole list", async () => {
  const all = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ limit: 5000 }).set(auth());
  expect(all.status).toBe(200);
  expect(all.body.next_cursor).toBeNull();
  expect(all.body.items.length).toBeGreaterThan(20);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await app.http
      .get(`/v1/images/${juiceDigest}/findings`)
      .query(cursor ? { limit: 7, cursor } : { limit: 7 })
      .set(auth());
    seen.push(...page.body.items.map((i) => i.id));
    cursor = page.body.next_cursor;
  } while (cursor);
  expect(seen).toEqual(all.body.items.map((i: { id: string }) => i.id));
});

test("when an exception covers a vulnerability of one image, then that image's findings of it are marked excepted, and only those", async () => {
  const critical = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ severity: "CRITICAL", kind: "vulnerability" }).set(auth());
  const id = critical.body.items[0].vulnerability_id as string;
  const granted = await app.http
    .post("/v1/exceptions")
    .set(auth())
    .send({ vulnerability_id: id, image_digest: juiceDigest, reason: "reading test" });
  expect(granted.status).toBe(201);
  const after = await app.http.get(`/v1/images/${juiceDigest}/findings`).query({ severity: "CRITICAL", kind: "vulnerability" }).set(auth());
  const items = after.body.items as Array<{ vulnerability_id: string; excepted: boolean }>;
  expect(items.filter((i) => i.excepted).length).toBeGreaterThan(0);
  for (const i of items) expect(i.excepted).toBe(i.vulnerability_id === id);
});
