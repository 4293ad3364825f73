import { readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { bearer, CENTOS_7, putPolicy, rawSecrets, rawVulnerabilities, SECRETS, uploadFixture, verdict } from "./policy-support";

let app: TestApp;
let secrets: string;
let centosQuay: string;
let centosHub: string;
let willNotFix: string;

beforeAll(async () => {
  app = await startTestApp();
  secrets = await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" });
  centosQuay = await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" });
  // The same scan again for another repository: re-serialised, so that its bytes (and report) differ.
  centosHub = fakeDigest("centos on docker hub");
  const res = await app.http
    .post(`/v1/reports?digest=${centosHub}&image=centos:7`)
    .set({ ...admin(), "Content-Type": "application/json" })
    .send(JSON.stringify(readFixtureJson(CENTOS_7)));
  expect(res.status).toBe(201);
  willNotFix = rawVulnerabilities(CENTOS_7, "LOW").find((v) => v.Status === "will_not_fix")!.VulnerabilityID;
  // One LOW finding is allowed: centos-7 has two (one will_not_fix), so one exception decides.
  expect(rawVulnerabilities(CENTOS_7, "LOW")).toHaveLength(2);
  await putPolicy(app, { max_severity_counts: { CRITICAL: 0, LOW: 1 } });
});
afterAll(async () => app.close());

function admin() {
  return bearer(app.adminToken);
}
const grant = (body: Record<string, unknown>, token = app.adminToken) => app.http.post("/v1/exceptions").set(bearer(token)).send(body);

describe("when an exception is granted", () => {
  test("then a secret rule exception for one digest flips that image to compliant at once, and the view marks the finding excepted", async () => {
    const secretIds = [...new Set(rawSecrets(SECRETS).map((s) => s.RuleID as string))];
    expect(secretIds).toEqual(["github-pat"]);
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: false, status: "non_compliant" });
    const writer = await app.token("policy:write");
    const res = await grant({ vulnerability_id: "github-pat", image_digest: secrets, reason: "test fixture tokens, revoked upstream" }, writer);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/exceptions/${res.body.id}`);
    expect(res.body).toMatchObject({
      vulnerability_id: "github-pat",
      image_digest: secrets,
      repository: null,
      reason: "test fixture tokens, revoked upstream",
      created_by: "test-policy:write",
      expires_at: null,
      revoked_at: null,
      state: "active",
      reevaluated: 1,
      changed: 1,
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: true, status: "compliant" });
    const lookup = await app.http.get(`/v1/images/${secrets}/compliance`).set(admin());
    expect(lookup.body).toMatchObject({ is_compliant: true, status: "compliant" });
    const { rows } = await app.database.db.pool.query(
      "SELECT DISTINCT excepted FROM current_findings WHERE image_digest = $1 AND vulnerability_id = 'github-pat'",
      [secrets],
    );
    expect(rows).toEqual([{ excepted: true }]);
  });

  test("then a repository glob covers the matching repository only, and the ID is normalised to Trivy's spelling", async () => {
    expect(await verdict(app, centosQuay)).toMatchObject({ is_compliant: false });
    const writer = await app.token("policy:write");
    const res = await grant({ vulnerability_id: willNotFix.toLowerCase(), repository: "quay.io/centos/*", reason: "no fix from the vendor", requested_by: "alice (ticket SEC-42)" }, writer);
    expect(res.status).toBe(201);
    // The author is the token that granted it; who asked is kept beside it, as written.
    expect(res.body).toMatchObject({
      vulnerability_id: willNotFix,
      repository: "quay.io/centos/*",
      created_by: "test-policy:write",
      requested_by: "alice (ticket SEC-42)",
      reevaluated: 1,
      changed: 1,
    });
    const { rows } = await app.database.db.pool.query("SELECT created_by, requested_by FROM policy_exceptions WHERE id = $1", [res.body.id]);
    expect(rows).toEqual([{ created_by: "test-policy:write", requested_by: "alice (ticket SEC-42)" }]);
    expect(await verdict(app, centosQuay)).toMatchObject({ is_compliant: true });
    expect(await verdict(app, centosHub)).toMatchObject({ is_compliant: false });
  });

  test("then a short repository glob is read the Docker way (centos = docker.io/library/centos)", async () => {
    const res = await grant({ vulnerability_id: willNotFix, repository: "centos", reason: "hub image, same answer" });
    expect(res.status).toBe(201);
    expect(res.body.repository).toBe("docker.io/library/centos");
    expect(await verdict(app, centosHub)).toMatchObject({ is_compliant: true });
    const revoked = await app.http.delete(`/v1/exceptions/${res.body.id}`).set(admin());
    expect(revoked.status).toBe(200);
    expect(await verdict(app, centosHub)).toMatchObject({ is_compliant: false });
  });

  test("then an exception for an ID no image has re-evaluates nothing", async () => {
    const res = await grant({ vulnerability_id: "GHSA-35JH-R3H4-6JHM", reason: "not used here" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ vulnerability_id: "GHSA-35jh-r3h4-6jhm", reevaluated: 0, changed: 0 });
  });

  test.each([
    ["a malformed CVE ID", { vulnerability_id: "CVE-20-1", reason: "x" }, "body.vulnerability_id"],
    ["an ID with spaces", { vulnerability_id: "not an id", reason: "x" }, "body.vulnerability_id"],
    ["a malformed GHSA ID", { vulnerability_id: "GHSA-1234", reason: "x" }, "body.vulnerability_id"],
    ["an upper-case glob", { vulnerability_id: "DS002", repository: "ghcr.io/Acme/*", reason: "x" }, "body.repository"],
    ["a glob with an empty segment", { vulnerability_id: "DS002", repository: "ghcr.io//app", reason: "x" }, "body.repository"],
    ["a malformed digest", { vulnerability_id: "DS002", image_digest: "sha256:abc", reason: "x" }, "body.image_digest"],
    ["a missing reason", { vulnerability_id: "DS002" }, "body.reason"],
    ["a blank reason", { vulnerability_id: "DS002", reason: "   " }, "body.reason"],
    ["an expiry in the past", { vulnerability_id: "DS002", reason: "x", expires_at: "2020-01-01T00:00:00Z" }, "body.expires_at"],
    ["an expiry without a time zone", { vulnerability_id: "DS002", reason: "x", expires_at: "2099-01-01 00:00" }, "body.expires_at"],
    ["an unknown field", { vulnerability_id: "DS002", reason: "x", expiry: "2099-01-01T00:00:00Z" }, "body"],
    ["an author written by the caller", { vulnerability_id: "DS002", reason: "x", created_by: "the-ciso" }, "body.created_by"],
    ["a blank requested_by", { vulnerability_id: "DS002", reason: "x", requested_by: "  " }, "body.requested_by"],
    ["a requested_by with a line break", { vulnerability_id: "DS002", reason: "x", requested_by: "alice\nbob" }, "body.requested_by"],
    ["a justification OpenVEX does not define", { vulnerability_id: "DS002", reason: "x", justification: "not_exploitable" }, "body.justification"],
  ])("with %s, then 422 names the path and nothing is written", async (_what, body, path) => {
    await app.flushDecisions(); // lookups of earlier tests are written in the background
    const before = await app.database.rowCounts();
    const res = await grant(body);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("invalid_request");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then an OpenVEX justification is stored, answered and listed; none is null", async () => {
    const res = await grant({ vulnerability_id: "CVE-2098-0001", reason: "the parser is never reached", justification: "vulnerable_code_not_in_execute_path" });
    expect(res.status).toBe(201);
    expect(res.body.justification).toBe("vulnerable_code_not_in_execute_path");
    const plain = await grant({ vulnerability_id: "CVE-2098-0002", reason: "accepted" });
    expect(plain.body.justification).toBeNull();
    const list = await app.http.get("/v1/exceptions?vulnerability_id=CVE-2098-0001").set(admin());
    expect(list.body.items).toEqual([expect.objectContaining({ id: res.body.id, justification: "vulnerable_code_not_in_execute_path" })]);
    // The database holds the column to OpenVEX's five values, whoever writes it.
    await expect(
      app.database.db.pool.query("UPDATE policy_exceptions SET justification = 'because' WHERE id = $1", [res.body.id]),
    ).rejects.toThrow(/policy_exceptions_justification_check/);
  });

  test("then a read-only token may list but not grant or withdraw", async () => {
    const reader = await app.token("compliance:read");
    expect((await app.http.get("/v1/exceptions").set(bearer(reader))).status).toBe(200);
    expect((await grant({ vulnerability_id: "DS002", reason: "x" }, reader)).status).toBe(403);
    expect((await app.http.delete(`/v1/exceptions/${fakeUuid()}`).set(bearer(reader))).status).toBe(403);
  });
});

describe("when an exception is withdrawn", () => {
  test("then the image is refused again at once, and the row is kept for audit with who and when", async () => {
    const granted = await grant({ vulnerability_id: willNotFix, image_digest: centosHub, reason: "temporary" });
    expect(await verdict(app, centosHub)).toMatchObject({ is_compliant: true });
    const writer = await app.token("policy:write");
    const res = await app.http.delete(`/v1/exceptions/${granted.body.id}`).set(bearer(writer));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: granted.body.id, state: "revoked", revoked_by: "test-policy:write", reevaluated: 1, changed: 1 });
    expect(Date.parse(res.body.revoked_at)).not.toBeNaN();
    expect(await verdict(app, centosHub)).toMatchObject({ is_compliant: false, status: "non_compliant" });
    const lookup = await app.http.get(`/v1/images/${centosHub}/compliance`).set(admin());
    expect(lookup.body.is_compliant).toBe(false);

    const again = await app.http.delete(`/v1/exceptions/${granted.body.id}`).set(admin());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ revoked_at: res.body.revoked_at, revoked_by: "test-policy:write", changed: 0 });
    const { rows } = await app.database.db.pool.query("SELECT revoked_at IS NOT NULL AS revoked FROM policy_exceptions WHERE id = $1", [granted.body.id]);
    expect(rows).toEqual([{ revoked: true }]);
  });

  test("then an unknown ID is 404 and a malformed one 400", async () => {
    const unknown = await app.http.delete(`/v1/exceptions/${fakeUuid()}`).set(admin());
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("exception_not_found");
    const malformed = await app.http.delete("/v1/exceptions/42").set(admin());
    expect(malformed.status).toBe(400);
  });
});

describe("when exceptions are listed", () => {
  test("then the default is those in force; state, vulnerability_id and image_digest filter", async () => {
    const all = (await app.http.get("/v1/exceptions?state=all").set(admin())).body.items as Array<Record<string, any>>;
    const active = (await app.http.get("/v1/exceptions").set(admin())).body.items as Array<Record<string, any>>;
    expect(active.length).toBeGreaterThan(0);
    expect(active.every((e) => e.state === "active")).toBe(true);
    expect(all.filter((e) => e.state === "revoked").length).toBeGreaterThan(0);
    expect(all.length).toBe(active.length + all.filter((e) => e.state !== "active").length);
    const revoked = (await app.http.get("/v1/exceptions?state=revoked").set(admin())).body.items as Array<Record<string, any>>;
    expect(revoked.map((e) => e.id).sort()).toEqual(all.filter((e) => e.state === "revoked").map((e) => e.id).sort());

    const byId = (await app.http.get(`/v1/exceptions?vulnerability_id=${willNotFix.toLowerCase()}`).set(admin())).body.items;
    expect(byId.length).toBeGreaterThan(0);
    expect(byId.every((e: { vulnerability_id: string }) => e.vulnerability_id === willNotFix)).toBe(true);

    // Those that cover the image: scoped to its digest, to its repository by glob, or everywhere.
    const forQuay = (await app.http.get(`/v1/exceptions?image_digest=${centosQuay}`).set(admin())).body.items;
    expect(forQuay.map((e: { repository: string | null; image_digest: string | null }) => [e.repository, e.image_digest])).toEqual(
      expect.arrayContaining([["quay.io/centos/*", null], [null, null]]),
    );
    expect(forQuay.some((e: { image_digest: string | null }) => e.image_digest === secrets)).toBe(false);
    const forSecrets = (await app.http.get(`/v1/exceptions?image_digest=${secrets}`).set(admin())).body.items;
    expect(forSecrets.some((e: { image_digest: string | null }) => e.image_digest === secrets)).toBe(true);
    expect(forSecrets.some((e: { repository: string | null }) => e.repository === "quay.io/centos/*")).toBe(false);

    const bad = await app.http.get("/v1/exceptions?state=old").set(admin());
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].path).toBe("query.state");
  });
});

describe("when several exceptions are granted together (the dashboard's grant form)", () => {
  test("then they are stored in one transaction: if the database refuses one, none is stored", async () => {
    const service = app.service.deps.exceptions;
    const base = { repository: null, imageDigest: null, expiresAt: null, createdBy: "test" };
    const stored = async () =>
      (await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions WHERE vulnerability_id LIKE 'CVE-2099-%'")).rows[0].n;
    // PostgreSQL text cannot hold a NUL character, so the second INSERT fails after the first succeeded.
    await expect(
      service.createAll([
        { ...base, vulnerabilityId: "CVE-2099-0001", reason: "fine" },
        { ...base, vulnerabilityId: "CVE-2099-0002", reason: "nul \u0000 byte" },
      ]),
    ).rejects.toThrow();
    expect(await stored()).toBe(0);
    const both = await service.createAll([
      { ...base, vulnerabilityId: "CVE-2099-0001", reason: "fine" },
      { ...base, vulnerabilityId: "CVE-2099-0002", reason: "fine" },
    ]);
    expect(both.rows.map((r) => r.vulnerability_id)).toEqual(["CVE-2099-0001", "CVE-2099-0002"]);
    expect(both).toMatchObject({ reevaluated: 0, changed: 0 });
    expect(await stored()).toBe(2);
  });
});

function fakeUuid(): string {
  return "00000000-0000-4000-8000-000000000000";
}
