/**
 * POST /v1/vex: an OpenVEX document's not_affected statements become exceptions, their scope from the products,
 * in one transaction with the re-evaluation; what it cannot place is reported back; a malformed document is 422 with
 * paths and writes nothing.
 */
import { startTestApp, type TestApp } from "../support/test-app";
import { bearer, JUICE_SHOP, rawVulnerabilities, uploadFixture, verdict } from "./policy-support";

let app: TestApp;
let juice: string;
const PRODUCT_URL = "index.docker.io%2Fbkimminich%2Fjuice-shop";

beforeAll(async () => {
  app = await startTestApp();
  juice = await uploadFixture(app, JUICE_SHOP);
});
afterAll(async () => app.close());

const admin = () => bearer(app.adminToken);

function doc(statements: unknown[], extra: Record<string, unknown> = {}) {
  return {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://vex.example.com/juice-shop/2026-12-02",
    author: "Acme Product Security",
    timestamp: "2026-12-02T08:00:00Z",
    version: 1,
    statements,
    ...extra,
  };
}

const criticalCount = async (digest: string) =>
  ((await verdict(app, digest)).reasons.find((r) => r.code === "severity_threshold" && r.severity === "CRITICAL")?.count as number | undefined) ?? 0;
const ids = (severity: string, id: string) => rawVulnerabilities(JUICE_SHOP, severity).filter((v) => v.VulnerabilityID === id).length;

describe("when an OpenVEX document is posted", () => {
  test("then its not_affected statements become exceptions scoped by their products, the rest is reported, and the verdict follows at once", async () => {
    const before = await criticalCount(juice);
    expect(before).toBe(rawVulnerabilities(JUICE_SHOP, "CRITICAL").length);
    const writer = await app.token("policy:write");
    const res = await app.http
      .post("/v1/vex")
      .set(bearer(writer))
      .send(
        doc([
          {
            vulnerability: { name: "CVE-2021-44906" },
            products: [{ "@id": `pkg:oci/juice-shop@${encodeURIComponent(juice)}?repository_url=${PRODUCT_URL}&arch=amd64` }],
            status: "not_affected",
            justification: "vulnerable_code_cannot_be_controlled_by_adversary",
            impact_statement: "minimist only parses our own flags",
          },
          {
            vulnerability: { name: "cve-2021-3711" },
            products: [{ "@id": "pkg:oci/juice-shop?repository_url=index.docker.io/bkimminich/juice-shop" }],
            status: "not_affected",
            justification: "component_not_present",
          },
          { vulnerability: { name: "CVE-2022-25883" }, products: [{ "@id": "*" }], status: "not_affected", impact_statement: "ranges come from lock files" },
          { vulnerability: { name: "CVE-2021-3918" }, products: [{ "@id": "pkg:npm/json-schema@0.2.3" }], status: "not_affected", justification: "vulnerable_code_not_present" },
          { vulnerability: { name: "CVE-2019-10744" }, products: [{ "@id": "pkg:oci/juice-shop" }], status: "not_affected", justification: "vulnerable_code_not_present" },
          {
            vulnerability: { name: "CVE-2015-9235" },
            products: [{ "@id": `pkg:oci/juice-shop@${encodeURIComponent(juice)}`, subcomponents: [{ "@id": "pkg:npm/jsonwebtoken@0.4.0" }] }],
            status: "not_affected",
            justification: "vulnerable_code_not_in_execute_path",
          },
          // Superseded: the later statement for the same ID and product says affected.
          { vulnerability: { name: "CVE-2022-2421" }, products: [{ "@id": "*" }], status: "not_affected", justification: "component_not_present", timestamp: "2026-12-01T00:00:00Z" },
          { vulnerability: { name: "CVE-2022-2421" }, products: [{ "@id": "*" }], status: "affected", action_statement: "upgrade socket.io-parser", timestamp: "2026-12-02T00:00:00Z" },
          { vulnerability: { name: "CVE-2021-3918" }, products: [{ "@id": "*" }], status: "under_investigation" },
        ]),
      );
    expect(res.status).toBe(201);
    expect(res.body.document).toBe("https://vex.example.com/juice-shop/2026-12-02");
    expect(res.body.created).toEqual([
      expect.objectContaining({
        vulnerability_id: "CVE-2021-44906",
        image_digest: juice,
        repository: null,
        justification: "vulnerable_code_cannot_be_controlled_by_adversary",
        reason: "minimist only parses our own flags",
        created_by: "test-policy:write",
        requested_by: "OpenVEX: Acme Product Security",
        expires_at: null,
      }),
      expect.objectContaining({ vulnerability_id: "CVE-2021-3711", image_digest: null, repository: "docker.io/bkimminich/juice-shop", justification: "component_not_present" }),
      expect.objectContaining({ vulnerability_id: "CVE-2022-25883", image_digest: null, repository: null, justification: null, reason: "ranges come from lock files" }),
    ]);
    expect(res.body.created[1].reason).toMatch(/not_affected \(component_not_present\)/);
    expect(res.body.unplaced.map((u: any) => [u.path, u.vulnerability_id])).toEqual([
      ["statements.3.products.0", "CVE-2021-3918"],
      ["statements.4.products.0", "CVE-2019-10744"],
      ["statements.5.products.0", "CVE-2015-9235"],
    ]);
    expect(res.body.unplaced[0].reason).toMatch(/names a package, not an image/);
    expect(res.body.unplaced[2].reason).toMatch(/subcomponents/);
    expect(res.body.skipped).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "statements.6", vulnerability_id: "CVE-2022-2421", status: "not_affected", reason: expect.stringMatching(/superseded/) }),
        expect.objectContaining({ path: "statements.7", vulnerability_id: "CVE-2022-2421", status: "affected" }),
        expect.objectContaining({ path: "statements.8", vulnerability_id: "CVE-2021-3918", status: "under_investigation" }),
      ]),
    );
    expect(res.body).toMatchObject({ reevaluated: 1, changed: 0 });
    const { rows } = await app.database.db.pool.query("SELECT vulnerability_id FROM policy_exceptions ORDER BY vulnerability_id");
    expect(rows.map((r) => r.vulnerability_id)).toEqual(["CVE-2021-3711", "CVE-2021-44906", "CVE-2022-25883"]);
    const after = before - ids("CRITICAL", "CVE-2021-44906") - ids("CRITICAL", "CVE-2021-3711");
    expect(await criticalCount(juice)).toBe(after);
    // The lookup (cache dropped by the use case) and the image answer the new verdict.
    const image = await app.http.get(`/v1/images/${juice}`).set(admin());
    expect(image.body.reasons.find((r: any) => r.severity === "CRITICAL").count).toBe(after);
  });

  test("then the registry's own export posted back makes nothing new: every statement is covered by an exception in force", async () => {
    const exported = await app.http.get(`/v1/exceptions/export?format=openvex&repository=docker.io/bkimminich/juice-shop`).set(admin());
    expect(exported.status).toBe(200);
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/vex").set(admin()).send(exported.body);
    expect(res.status).toBe(200);
    expect(res.body.created).toEqual([]);
    expect(res.body.existing.map((e: any) => e.vulnerability_id).sort()).toEqual(["CVE-2021-3711", "CVE-2021-44906", "CVE-2022-25883"]);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then the same document posted twice at once grants its exceptions once: what exists is decided under the policy lock", async () => {
    const body = doc([{ vulnerability: { name: "CVE-2099-0001" }, products: [{ "@id": "*" }], status: "not_affected", justification: "component_not_present" }]);
    const [a, b] = await Promise.all([app.http.post("/v1/vex").set(admin()).send(body), app.http.post("/v1/vex").set(admin()).send(body)]);
    expect([a.body.created.length, b.body.created.length].sort()).toEqual([0, 1]);
    expect([a.body.existing.length, b.body.existing.length].sort()).toEqual([0, 1]);
    const { rows } = await app.database.db.pool.query("SELECT count(*)::int AS n FROM policy_exceptions WHERE vulnerability_id = 'CVE-2099-0001'");
    expect(rows[0].n).toBe(1);
  });

  test("then ?expires_at= gives the exceptions it makes an expiry", async () => {
    const res = await app.http
      .post("/v1/vex?expires_at=2099-01-01T00:00:00Z")
      .set(admin())
      .send(doc([{ vulnerability: { name: "GHSA-35jh-r3h4-6jhm" }, products: [{ "@id": "*" }], status: "not_affected", justification: "inline_mitigations_already_exist" }]));
    expect(res.status).toBe(201);
    expect(res.body.created).toEqual([expect.objectContaining({ vulnerability_id: "GHSA-35jh-r3h4-6jhm", expires_at: "2099-01-01T00:00:00.000Z" })]);
  });
});

describe("when the document is malformed", () => {
  const ok = { vulnerability: { name: "CVE-2099-1000" }, products: [{ "@id": "*" }], status: "not_affected", justification: "component_not_present" };
  test.each([
    ["no @context", { ...doc([ok]), "@context": undefined }, "body.@context"],
    ["a CSAF document", { document: { category: "csaf_vex" } }, "body.@context"],
    ["no statements", doc([]), "body.statements"],
    ["an unknown status", doc([{ ...ok, status: "exploitable" }]), "body.statements.0.status"],
    ["not_affected without justification or impact statement", doc([{ ...ok, justification: undefined }]), "body.statements.0.justification"],
    ["a justification OpenVEX does not define", doc([{ ...ok, justification: "because" }]), "body.statements.0.justification"],
    ["a malformed vulnerability ID", doc([ok, { ...ok, vulnerability: { name: "CVE-1" } }]), "body.statements.1.vulnerability.name"],
    ["a timestamp without a time zone", doc([{ ...ok, timestamp: "2026-12-02 10:00" }]), "body.statements.0.timestamp"],
    ["a product that is not an object", doc([{ ...ok, products: ["*"] }]), "body.statements.0.products.0"],
  ])("with %s, then 422 names the path and nothing is written", async (_what, body, path) => {
    await app.flushDecisions();
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/vex").set(admin()).send(body as object);
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("with an expiry in the past, then 422 names query.expires_at and nothing is written", async () => {
    const before = await app.database.rowCounts();
    const res = await app.http.post("/v1/vex?expires_at=2020-01-01T00:00:00Z").set(admin()).send(doc([ok]));
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("query.expires_at");
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("over the size limit, then 413; and a read-only token may not post one", async () => {
    const huge = doc([{ ...ok, impact_statement: "x".repeat(1000) }].concat(Array.from({ length: 3000 }, () => ({ ...ok, impact_statement: "y".repeat(1000) }))));
    expect((await app.http.post("/v1/vex").set(admin()).send(huge)).status).toBe(413);
    const reader = await app.token("compliance:read");
    expect((await app.http.post("/v1/vex").set(bearer(reader)).send(doc([ok]))).status).toBe(403);
  });
});
