import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import {
  ALPINE,
  bearer,
  CENTOS_7,
  JUICE_SHOP,
  putPolicy,
  rawFailedMisconfigurations,
  rawSecrets,
  rawVulnerabilities,
  SECRETS,
  uploadFixture,
  verdict,
} from "./policy-support";

let app: TestApp;
let juice: string;
let centos: string;
let secrets: string;
let alpine: string;

beforeAll(async () => {
  app = await startTestApp();
  juice = await uploadFixture(app, JUICE_SHOP);
  centos = await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" });
  secrets = await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" });
  alpine = await uploadFixture(app, ALPINE, { image: "docker.io/library/alpine:3.10" });
});
afterAll(async () => app.close());

/** The policy version each stored image's lookup answer names (the cache dropped, so each is read from image_scans). */
async function answeredVersions(): Promise<number[]> {
  app.service.deps.verdictCache.clear();
  const versions: number[] = [];
  for (const digest of [juice, centos, secrets, alpine])
    versions.push((await app.http.get(`/v1/images/${digest}/compliance`).set(admin())).body.policy_version);
  return versions;
}

const admin = () => bearer(app.adminToken);
const reason = (v: { reasons: Array<Record<string, any>> }, code: string, severity?: string) =>
  v.reasons.find((r) => r.code === code && (severity === undefined || r.severity === severity));

describe("when the policy is read", () => {
  test("then GET /v1/policy answers version 1 with the documented defaults", async () => {
    const fresh = await startTestApp();
    try {
      const res = await fresh.http.get("/v1/policy").set(bearer(await fresh.token("compliance:read")));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        version: 1,
        created_by: "default",
        rules: {
          max_severity_counts: { CRITICAL: 0 },
          ignore_unfixed: false,
          block_secrets: true,
          block_misconfiguration_severities: [],
          max_scan_age_days: null,
          unscanned: "deny",
        },
      });
      expect(Date.parse(res.body.created_at)).not.toBeNaN();
    } finally {
      await fresh.close();
    }
  });

  test("then a token without a scope gets 401, a read-only token cannot PUT (403)", async () => {
    expect((await app.http.get("/v1/policy")).status).toBe(401);
    const reader = await app.token("compliance:read");
    const res = await putPolicy(app, {}, reader);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("insufficient_scope");
  });
});

describe("when a policy is PUT", () => {
  test("then omitted rules take their defaults, the version rises and every stored image is re-evaluated under it", async () => {
    const before = (await app.http.get("/v1/policy").set(admin())).body.version as number;
    const writer = await app.token("policy:write");
    const res = await putPolicy(app, { max_severity_counts: { CRITICAL: 0, HIGH: 1000 } }, writer);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: before + 1,
      created_by: "test-policy:write",
      rules: { max_severity_counts: { CRITICAL: 0, HIGH: 1000 }, ignore_unfixed: false, block_secrets: true, unscanned: "deny" },
      reevaluated: 4,
    });
    // Rows whose verdict did not change are not rewritten; every answer names the version in force.
    expect(await answeredVersions()).toEqual([before + 1, before + 1, before + 1, before + 1]);
  });

  test("then GET /v1/policy/versions lists every version, newest first, old ones kept", async () => {
    await putPolicy(app, { block_secrets: true });
    const res = await app.http.get("/v1/policy/versions").set(admin());
    expect(res.status).toBe(200);
    const versions = res.body.items.map((v: { version: number }) => v.version);
    expect(versions[versions.length - 1]).toBe(1);
    expect(versions).toEqual([...versions].sort((a: number, b: number) => b - a));
    expect(versions[0]).toBe((await app.http.get("/v1/policy").set(admin())).body.version);
    expect(res.body.items[versions.length - 1].rules.max_severity_counts).toEqual({ CRITICAL: 0 });
  });

  test("then GET's answer may be sent back edited ({version, rules, …}); the version in it is ignored", async () => {
    const current = (await app.http.get("/v1/policy").set(admin())).body;
    const res = await putPolicy(app, { ...current, rules: { ...current.rules, ignore_unfixed: true } });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(current.version + 1);
    expect(res.body.rules.ignore_unfixed).toBe(true);
  });

  test.each([
    ["an unknown rule", { max_critical: 0 }, "body"],
    ["a negative count", { max_severity_counts: { HIGH: -1 } }, "body.max_severity_counts.HIGH"],
    ["a fractional count", { max_severity_counts: { HIGH: 1.5 } }, "body.max_severity_counts.HIGH"],
    ["a severity outside Trivy's five", { max_severity_counts: { SEVERE: 0 } }, "body.max_severity_counts"],
    ["a misconfiguration severity outside Trivy's five", { block_misconfiguration_severities: ["high"] }, "body.block_misconfiguration_severities.0"],
    ["a wrong type", { ignore_unfixed: "yes" }, "body.ignore_unfixed"],
    ["an unknown unscanned mode", { unscanned: "warn" }, "body.unscanned"],
    ["a zero scan age", { max_scan_age_days: 0 }, "body.max_scan_age_days"],
    ["an unknown rule inside GET's shape", { version: 3, rules: { block_secretz: true } }, "body.rules"],
  ])("with %s, then 422 names the path and nothing is written", async (_what, body, path) => {
    await app.flushDecisions(); // lookups of earlier tests are written in the background
    const before = await app.database.rowCounts();
    const res = await putPolicy(app, body);
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe("invalid_request");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("with a body that is not a JSON object, then 400", async () => {
    const res = await app.http.put("/v1/policy").set({ ...admin(), "Content-Type": "application/json" }).send("[1]");
    expect(res.status).toBe(400);
    const notJson = await app.http.put("/v1/policy").set({ ...admin(), "Content-Type": "application/json" }).send("{nope");
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe("invalid_json");
  });

  test("twice at the same time, then there are two consecutive versions, the one committed last is in force, and every image carries it", async () => {
    const start = (await app.http.get("/v1/policy").set(admin())).body.version as number;
    const [a, b] = await Promise.all([
      putPolicy(app, { max_severity_counts: { CRITICAL: 100 } }),
      putPolicy(app, { max_severity_counts: { CRITICAL: 200 } }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body.version, b.body.version].sort()).toEqual([start + 1, start + 2]);
    const last = a.body.version > b.body.version ? a.body : b.body;
    const active = (await app.http.get("/v1/policy").set(admin())).body;
    expect(active.version).toBe(start + 2);
    expect(active.rules).toEqual(last.rules);
    expect(await answeredVersions()).toEqual([start + 2, start + 2, start + 2, start + 2]);
  });

  test("then the answer counts the images whose verdict changed", async () => {
    await putPolicy(app, { max_severity_counts: {}, block_secrets: false });
    const tightened = await putPolicy(app, { max_severity_counts: { LOW: 0 }, block_secrets: false });
    // Everything was compliant without limits; the images whose raw report has a LOW finding turn.
    const withLow = [JUICE_SHOP, CENTOS_7, SECRETS, ALPINE].filter((name) => rawVulnerabilities(name, "LOW").length > 0);
    expect(withLow.length).toBeGreaterThan(0);
    expect(tightened.body.changed).toBe(withLow.length);
    const again = await putPolicy(app, { max_severity_counts: { LOW: 0 }, block_secrets: false });
    expect(again.body).toMatchObject({ reevaluated: 4, changed: 0 });
  });
});

describe("when each rule meets the real fixtures", () => {
  test("juice-shop under a HIGH limit: over the number of HIGH findings in the raw report it is refused, at it it may run", async () => {
    const high = rawVulnerabilities(JUICE_SHOP, "HIGH").length;
    await putPolicy(app, { max_severity_counts: { HIGH: high - 1 }, block_secrets: false });
    const refused = await verdict(app, juice);
    expect(refused).toMatchObject({ is_compliant: false, status: "non_compliant" });
    expect(reason(refused, "severity_threshold", "HIGH")).toMatchObject({ count: high, limit: high - 1 });
    expect(reason(refused, "severity_threshold", "HIGH")!.ids.length).toBeLessThanOrEqual(5);
    await putPolicy(app, { max_severity_counts: { HIGH: high }, block_secrets: false });
    expect(await verdict(app, juice)).toMatchObject({ is_compliant: true, status: "compliant", reasons: [] });
  });

  test("juice-shop under ignore_unfixed: only HIGH findings with a FixedVersion count", async () => {
    const fixedHigh = rawVulnerabilities(JUICE_SHOP, "HIGH", { ignoreUnfixed: true }).length;
    expect(fixedHigh).toBeLessThan(rawVulnerabilities(JUICE_SHOP, "HIGH").length);
    await putPolicy(app, { max_severity_counts: { HIGH: fixedHigh }, ignore_unfixed: true, block_secrets: false });
    expect(await verdict(app, juice)).toMatchObject({ is_compliant: true });
    await putPolicy(app, { max_severity_counts: { HIGH: fixedHigh - 1 }, ignore_unfixed: true, block_secrets: false });
    const refused = await verdict(app, juice);
    expect(reason(refused, "severity_threshold", "HIGH")).toMatchObject({ count: fixedHigh, limit: fixedHigh - 1 });
    await putPolicy(app, { max_severity_counts: { HIGH: fixedHigh }, ignore_unfixed: false, block_secrets: false });
    expect(await verdict(app, juice)).toMatchObject({ is_compliant: false });
  });

  test("juice-shop under the default policy: its CRITICAL findings and its private key both give reasons", async () => {
    await putPolicy(app, {});
    const v = await verdict(app, juice);
    expect(reason(v, "severity_threshold", "CRITICAL")).toMatchObject({ count: rawVulnerabilities(JUICE_SHOP, "CRITICAL").length, limit: 0 });
    expect(reason(v, "secret_found")).toMatchObject({ count: rawSecrets(JUICE_SHOP).length, ids: ["private-key"] });
  });

  test("centos-7: a will_not_fix finding (no FixedVersion) counts, unless ignore_unfixed", async () => {
    const low = rawVulnerabilities(CENTOS_7, "LOW");
    const lowFixed = rawVulnerabilities(CENTOS_7, "LOW", { ignoreUnfixed: true });
    const willNotFix = low.filter((v) => v.Status === "will_not_fix");
    expect(willNotFix.length).toBeGreaterThan(0);
    expect(lowFixed.length).toBe(low.length - willNotFix.length);
    await putPolicy(app, { max_severity_counts: { LOW: lowFixed.length } });
    const refused = await verdict(app, centos);
    expect(refused.is_compliant).toBe(false);
    expect(reason(refused, "severity_threshold", "LOW")).toMatchObject({ count: low.length });
    expect(reason(refused, "severity_threshold", "LOW")!.ids).toEqual(expect.arrayContaining(willNotFix.map((v) => v.VulnerabilityID)));
    await putPolicy(app, { max_severity_counts: { LOW: lowFixed.length }, ignore_unfixed: true });
    expect(await verdict(app, centos)).toMatchObject({ is_compliant: true, status: "compliant" });
  });

  test("the secrets report: block_secrets refuses it; without it the misconfiguration rule decides", async () => {
    const secretIds = [...new Set(rawSecrets(SECRETS).map((s) => s.RuleID as string))];
    await putPolicy(app, { block_secrets: true });
    const blocked = await verdict(app, secrets);
    expect(blocked).toMatchObject({ is_compliant: false, status: "non_compliant" });
    expect(reason(blocked, "secret_found")).toMatchObject({ count: rawSecrets(SECRETS).length, ids: secretIds, total: secretIds.length });

    await putPolicy(app, { block_secrets: false });
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: true, reasons: [] });

    const failed = rawFailedMisconfigurations(SECRETS);
    const severity = failed[0]!.Severity as string;
    await putPolicy(app, { block_secrets: false, block_misconfiguration_severities: [severity] });
    const misconfigured = await verdict(app, secrets);
    expect(misconfigured.is_compliant).toBe(false);
    expect(reason(misconfigured, "misconfiguration", severity)).toMatchObject({
      count: failed.filter((m) => m.Severity === severity).length,
      ids: [...new Set(failed.filter((m) => m.Severity === severity).map((m) => m.ID as string))],
    });
    await putPolicy(app, { block_secrets: false, block_misconfiguration_severities: severity === "CRITICAL" ? ["LOW"] : ["CRITICAL"] });
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: true });
  });

  test("unscanned: allow lets an unknown digest run, deny (the default) refuses it", async () => {
    const unknown = fakeDigest("never uploaded");
    await putPolicy(app, { unscanned: "allow" });
    const allowed = await app.http.get(`/v1/images/${unknown}/compliance`).set(admin());
    expect(allowed.body).toMatchObject({ is_compliant: true, status: "not_scanned" });
    await putPolicy(app, { unscanned: "deny" });
    const denied = await app.http.get(`/v1/images/${unknown}/compliance`).set(admin());
    expect(denied.body).toMatchObject({ is_compliant: false, status: "not_scanned" });
  });
});

describe("when an admin asks for a re-evaluation", () => {
  test("then every image is evaluated again now, under the policy in force", async () => {
    await app.database.db.pool.query("UPDATE image_scans SET is_compliant = true, status = 'compliant', reasons = '[]' WHERE image_digest = $1", [juice]);
    const res = await app.http.post("/v1/reevaluate").set(admin());
    expect(res.status).toBe(200);
    const active = (await app.http.get("/v1/policy").set(admin())).body.version;
    expect(res.body).toEqual({ version: active, reevaluated: 4, changed: 1 });
    expect(await verdict(app, juice)).toMatchObject({ is_compliant: false });
    const writer = await app.token("policy:write");
    expect((await app.http.post("/v1/reevaluate").set(bearer(writer))).status).toBe(403);
  });
});
