/**
 * The loop CI closes with GET /v1/exceptions/export: Trivy's documented rules (test/support/trivy-rules.ts, written
 * from Trivy's source) applied with the exported `.trivyignore.yaml` or OpenVEX document to the real reports leave
 * exactly the findings the registry still counts under the same exceptions (GET /v1/images/{digest}: its verdict's
 * reasons, under a policy that counts every severity, secret and misconfiguration).
 */
import { readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { parseTrivyIgnoreYaml, registryCounts, trivyImagePurl, trivyRemaining, type RemainingCounts } from "../support/trivy-rules";
import { bearer, CENTOS_7, JUICE_SHOP, putPolicy, SECRETS, uploadFixture } from "./policy-support";

let app: TestApp;
let now = new Date("2026-12-02T10:00:00Z");
let juice: string;
let secrets: string;
let centos: string;
const HOUR = 3_600_000;

beforeAll(async () => {
  app = await startTestApp({ clock: () => now });
  juice = await uploadFixture(app, JUICE_SHOP);
  secrets = await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" });
  centos = await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" });
  const all = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
  const policy = await putPolicy(app, {
    max_severity_counts: Object.fromEntries(all.map((s) => [s, 0])),
    block_secrets: true,
    block_misconfiguration_severities: all,
  });
  expect(policy.status).toBe(200);

  const grant = async (body: Record<string, unknown>) => {
    const res = await app.http.post("/v1/exceptions").set(bearer(app.adminToken)).send(body);
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const inOneHour = new Date(now.getTime() + HOUR).toISOString();
  await grant({ vulnerability_id: "CVE-2021-44906", image_digest: juice, reason: "minimist only parses our own flags", justification: "vulnerable_code_cannot_be_controlled_by_adversary" });
  await grant({ vulnerability_id: "CVE-2021-3711", repository: "docker.io/bkimminich/*", reason: "no SM2 in use", expires_at: inOneHour });
  await grant({ vulnerability_id: "CVE-2022-25883", reason: "semver ranges come from our lock files" });
  await grant({ vulnerability_id: "private-key", repository: "bkimminich/juice-shop", reason: "the demo key of a training app" });
  await grant({ vulnerability_id: "CVE-2021-3918", repository: "docker.io/other/app", reason: "another repository" });
  const revoked = await grant({ vulnerability_id: "CVE-2015-9235", image_digest: juice, reason: "withdrawn below" });
  expect((await app.http.delete(`/v1/exceptions/${revoked}`).set(bearer(app.adminToken))).status).toBe(200);
  await grant({ vulnerability_id: "github-pat", image_digest: secrets, reason: "fixture tokens, revoked upstream" });
  await grant({ vulnerability_id: "DS002", repository: "registry.example.com/team/*", reason: "root needed by the build stage", expires_at: inOneHour });
  await grant({ vulnerability_id: "CVE-2021-33503", repository: "registry.example.com/**", reason: "urllib3 not reachable", justification: "vulnerable_code_not_in_execute_path" });
  const centosCve = (readFixtureJson(CENTOS_7).Results as any[])[0].Vulnerabilities[0].VulnerabilityID as string;
  await grant({ vulnerability_id: centosCve, repository: "quay.io/centos/centos", reason: "base image pinned; fix scheduled" });
});
afterAll(async () => app.close());

const admin = () => bearer(app.adminToken);

async function exported(format: "trivyignore" | "openvex", target: Record<string, string>) {
  const res = await app.http.get(`/v1/exceptions/export?${new URLSearchParams({ format, ...target })}`).set(admin());
  expect(res.status).toBe(200);
  return res;
}

async function counted(digest: string): Promise<RemainingCounts> {
  // The lookup re-evaluates a verdict whose exception has expired (and stores it) before the image is read.
  expect((await app.http.get(`/v1/images/${digest}/compliance`).set(admin())).status).toBe(200);
  const res = await app.http.get(`/v1/images/${digest}`).set(admin());
  expect(res.status).toBe(200);
  return registryCounts(res.body.reasons);
}

describe("when CI's Trivy applies the exported ignore file to the same report", () => {
  test.each([
    ["juice-shop (by digest)", JUICE_SHOP, () => ({ image: juice })],
    ["juice-shop (by tag)", JUICE_SHOP, () => ({ image: "bkimminich/juice-shop:v10.2.0" })],
    ["a trivy fs report with secrets and a misconfiguration", SECRETS, () => ({ image: secrets })],
    ["centos 7 (no RepoDigests)", CENTOS_7, () => ({ image: centos })],
  ])("%s: the counts left are the registry's under the same exceptions, and differ from the raw report's", async (_what, fixture, target) => {
    const report = readFixtureJson(fixture);
    const res = await exported("trivyignore", target());
    expect(res.headers["content-type"]).toMatch(/^application\/yaml/);
    const ignore = parseTrivyIgnoreYaml(res.text);
    const digest = Object.values(target())[0]!.startsWith("sha256:") ? Object.values(target())[0]! : juice;
    const expected = await counted(digest);
    expect(trivyRemaining(report, { ignore, now })).toEqual(expected);
    // Not a trivial equality: the exceptions take findings away.
    expect(trivyRemaining(report, { now })).not.toEqual(expected);
  });

  test("then the file holds only exceptions in force for that image, each in the section of its kind, with expired_at and the reason", async () => {
    const ignore = parseTrivyIgnoreYaml((await exported("trivyignore", { image: juice })).text);
    expect(ignore.vulnerabilities.map((e) => e.id).sort()).toEqual(["CVE-2021-3711", "CVE-2021-44906", "CVE-2022-25883"]);
    expect(ignore.secrets.map((e) => e.id)).toEqual(["private-key"]);
    expect(ignore.misconfigurations).toEqual([]);
    expect(ignore.vulnerabilities.find((e) => e.id === "CVE-2021-3711")!.expiredAt).toEqual(new Date(now.getTime() + HOUR));
    const text = (await exported("trivyignore", { image: juice })).text;
    expect(text).toMatch(/statement: "minimist only parses our own flags \[OpenVEX: vulnerable_code_cannot_be_controlled_by_adversary\] \(scan-registry exception [0-9a-f-]{36}, sha256:/);
    const other = parseTrivyIgnoreYaml((await exported("trivyignore", { image: secrets })).text);
    expect(other.secrets.map((e) => e.id)).toEqual(["github-pat"]);
    expect(other.misconfigurations.map((e) => e.id)).toEqual(["DS002"]);
  });

  test("then a repository's file holds what covers every image of it, not what one digest has", async () => {
    const ignore = parseTrivyIgnoreYaml((await exported("trivyignore", { repository: "bkimminich/juice-shop" })).text);
    expect(ignore.vulnerabilities.map((e) => e.id).sort()).toEqual(["CVE-2021-3711", "CVE-2022-25883"]);
    expect(ignore.secrets.map((e) => e.id)).toEqual(["private-key"]);
  });
});

describe("when CI's Trivy applies the exported OpenVEX document", () => {
  test("then for an image scanned from a registry (RepoDigests) the counts left are the registry's, by image and by repository", async () => {
    const report = readFixtureJson(JUICE_SHOP);
    expect(trivyImagePurl(report)).toBe(
      "pkg:oci/juice-shop@sha256%3Ab1802758946aa40549b98ee6b8f93e9b92d0a6bf7aed139284893466be9c5065?arch=amd64&repository_url=index.docker.io%2Fbkimminich%2Fjuice-shop",
    );
    const expected = await counted(juice);
    for (const target of [{ image: juice }, { repository: "docker.io/bkimminich/juice-shop" }] as Array<Record<string, string>>) {
      const vex = (await exported("openvex", target)).body;
      // Secrets are not Trivy's VEX business: the ignore file carries private-key; the VEX leaves that secret counted.
      expect(trivyRemaining(report, { vex, now })).toEqual({ ...expected, secrets: expected.secrets + 1 });
      expect(trivyRemaining(report, { vex, ignore: { vulnerabilities: [], misconfigurations: [], secrets: [{ id: "private-key", expiredAt: null }] }, now })).toEqual(expected);
    }
  });

  test("then each statement is not_affected with a pkg:oci product, the justification when there is one, and the reason as impact statement", async () => {
    const vex = (await exported("openvex", { image: juice })).body;
    expect(vex["@context"]).toBe("https://openvex.dev/ns/v0.2.0");
    expect(vex.statements.map((s: any) => s.vulnerability.name).sort()).toEqual(["CVE-2021-3711", "CVE-2021-44906", "CVE-2022-25883"]);
    const product = `pkg:oci/juice-shop@${encodeURIComponent(juice)}?repository_url=index.docker.io%2Fbkimminich%2Fjuice-shop`;
    expect(vex.statements.find((s: any) => s.vulnerability.name === "CVE-2021-44906")).toMatchObject({
      products: [{ "@id": product }],
      status: "not_affected",
      justification: "vulnerable_code_cannot_be_controlled_by_adversary",
      impact_statement: "minimist only parses our own flags",
    });
    const unjustified = vex.statements.find((s: any) => s.vulnerability.name === "CVE-2022-25883");
    expect(unjustified.justification).toBeUndefined();
    expect(unjustified.impact_statement).toBe("semver ranges come from our lock files");
    const byRepository = (await exported("openvex", { repository: "docker.io/bkimminich/juice-shop" })).body;
    expect(byRepository.statements.find((s: any) => s.vulnerability.name === "CVE-2022-25883").products).toEqual([
      { "@id": "pkg:oci/juice-shop?repository_url=index.docker.io%2Fbkimminich%2Fjuice-shop" },
    ]);
  });

  test("then for a report without RepoDigests Trivy has no image purl to match, so only the ignore file closes the loop", async () => {
    const report = readFixtureJson(CENTOS_7);
    expect(trivyImagePurl(report)).toBeNull();
    const vex = (await exported("openvex", { image: centos })).body;
    expect(vex.statements.map((s: any) => s.vulnerability.name)).toContain("CVE-2019-18276");
    expect(trivyRemaining(report, { vex, now })).toEqual(trivyRemaining(report, { now }));
  });
});

describe("when an exported exception expires", () => {
  test("then Trivy drops the stale file's entry as the registry stops counting it out, and a new export leaves it out", async () => {
    const before = parseTrivyIgnoreYaml((await exported("trivyignore", { image: juice })).text);
    now = new Date(now.getTime() + 2 * HOUR);
    const report = readFixtureJson(JUICE_SHOP);
    const expected = await counted(juice);
    expect(trivyRemaining(report, { ignore: before, now })).toEqual(expected);
    const after = parseTrivyIgnoreYaml((await exported("trivyignore", { image: juice })).text);
    expect(after.vulnerabilities.map((e) => e.id)).not.toContain("CVE-2021-3711");
    const secretsNow = await counted(secrets);
    expect(trivyRemaining(readFixtureJson(SECRETS), { ignore: parseTrivyIgnoreYaml((await exported("trivyignore", { image: secrets })).text), now })).toEqual(secretsNow);
    expect(secretsNow.misconfigurations).toBe(1);
  });
});

describe("when the export is asked wrongly", () => {
  test.each([
    ["no format", { image: "sha256:" + "0".repeat(64) }, 422, "query.format"],
    ["an unknown format", { format: "sarif", image: "sha256:" + "0".repeat(64) }, 422, "query.format"],
    ["neither image nor repository", { format: "trivyignore" }, 422, "query.image"],
    ["both image and repository", { format: "trivyignore", image: "nginx:1", repository: "nginx" }, 422, "query.image"],
    ["a repository with a tag", { format: "openvex", repository: "nginx:1" }, 422, "query.repository"],
    ["a repository glob", { format: "openvex", repository: "ghcr.io/acme/*" }, 422, "query.repository"],
  ])("with %s, then %s names the parameter", async (_what, query, status, path) => {
    const res = await app.http.get(`/v1/exceptions/export?${new URLSearchParams(query as Record<string, string>)}`).set(admin());
    expect(res.status).toBe(status);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  test("with an image the registry does not know, then 404; without a token 401; a read token may export", async () => {
    expect((await app.http.get(`/v1/exceptions/export?format=openvex&image=sha256:${"1".repeat(64)}`).set(admin())).status).toBe(404);
    expect((await app.http.get(`/v1/exceptions/export?format=openvex&image=nginx:never`).set(admin())).status).toBe(404);
    expect((await app.http.get(`/v1/exceptions/export?format=openvex&image=${juice}`)).status).toBe(401);
    const reader = await app.token("compliance:read");
    expect((await app.http.get(`/v1/exceptions/export?format=openvex&image=${juice}`).set(bearer(reader))).status).toBe(200);
  });
});
