import fs from "node:fs";
import path from "node:path";
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { fakeJwt, startFakeKubernetes, type FakeKubernetes } from "../support/fake-kubernetes";
import { startTestApp, type TestApp } from "../support/test-app";

const AUDIENCE = "kyverno-svc.kyverno.io";
const KYVERNO = "system:serviceaccount:kyverno:kyverno-admission-controller";
const OTHER = "system:serviceaccount:default:someone";
const lookupPath = (n: string) => `/v1/images/sha256:${n.repeat(64)}/compliance`;

let certs: TestCertificates;
let kube: FakeKubernetes;
let app: TestApp;

function kubernetesEnv(extra: Record<string, string> = {}): Record<string, string> {
  const tokenFile = path.join(certs.dir, "caller-token");
  fs.writeFileSync(tokenFile, `${kube.callerToken}\n`);
  return { LOOKUP_AUTH: "kubernetes", KUBERNETES_API_URL: kube.url, KUBERNETES_CA_FILE: certs.caFile, KUBERNETES_TOKEN_FILE: tokenFile, ...extra };
}

beforeAll(async () => {
  certs = generateTestCertificates();
  kube = await startFakeKubernetes(certs);
  kube.tokens.set(fakeJwt("kyverno-projected-token"), { username: KYVERNO, audiences: [AUDIENCE] });
  kube.tokens.set(fakeJwt("kyverno-token-2"), { username: KYVERNO, audiences: [AUDIENCE] });
  kube.tokens.set(fakeJwt("other-audience-token"), { username: KYVERNO, audiences: ["https://kubernetes.default.svc"] });
  kube.tokens.set(fakeJwt("someone-token"), { username: OTHER, audiences: [AUDIENCE] });
  app = await startTestApp({ env: kubernetesEnv() });
});
afterAll(async () => {
  await app?.close();
  await kube?.close();
  certs?.cleanup();
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe("LOOKUP_AUTH=kubernetes", () => {
  test("when Kyverno sends a service-account token for our audience, then the lookup answers and is logged under its username", async () => {
    const res = await app.http.get(lookupPath("a")).query({ namespace: "prod" }).set(bearer(fakeJwt("kyverno-projected-token")));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("not_scanned");
    const asked = kube.reviews.find((r) => r.token === fakeJwt("kyverno-projected-token"))!;
    expect(asked.audiences).toEqual([AUDIENCE]);
    expect(asked.authorization).toBe(`Bearer ${kube.callerToken}`);
    await app.flushDecisions();
    const { rows } = await app.database.db.pool.query("SELECT token_id, token_name FROM admission_decisions WHERE namespace = 'prod'");
    expect(rows).toEqual([{ token_id: null, token_name: KYVERNO }]);
  });

  test("when the batch check is called with such a token, then it answers too", async () => {
    const res = await app.http
      .post("/v1/compliance/check")
      .set(bearer(fakeJwt("kyverno-projected-token")))
      .send({ images: [`registry.example/app@sha256:${"b".repeat(64)}`] });
    expect(res.status).toBe(200);
    expect(res.body.allowed).toBe(false);
  });

  test("when the same token asks many times, then the TokenReview answer is cached", async () => {
    const before = kube.reviews.filter((r) => r.token === fakeJwt("kyverno-token-2")).length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => app.http.get(lookupPath("c")).set(bearer(fakeJwt("kyverno-token-2")))));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await app.http.get(lookupPath("c")).set(bearer(fakeJwt("kyverno-token-2")))).status).toBe(200);
    expect(kube.reviews.filter((r) => r.token === fakeJwt("kyverno-token-2")).length - before).toBe(1);
  });

  test.each([
    ["a token for another audience", fakeJwt("other-audience-token")],
    ["a token Kubernetes does not know", fakeJwt("forged-token")],
  ])("when %s is sent, then 401", async (_what, token) => {
    const res = await app.http.get(lookupPath("d")).set(bearer(token));
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe("unauthorized");
  });

  test("when no token is sent, then 401 and Kubernetes is not asked", async () => {
    const before = kube.reviews.length;
    expect((await app.http.get(lookupPath("d"))).status).toBe(401);
    expect(kube.reviews.length).toBe(before);
  });

  test("when an API token with compliance:read is used, then it keeps working and is never sent to Kubernetes", async () => {
    const token = await app.token("compliance:read");
    expect((await app.http.get(lookupPath("e")).set(bearer(token))).status).toBe(200);
    expect(kube.reviews.some((r) => r.token === token)).toBe(false);
    const unknownApiToken = `sr_${"x".repeat(43)}`;
    expect((await app.http.get(lookupPath("e")).set(bearer(unknownApiToken))).status).toBe(401);
    expect(kube.reviews.some((r) => r.token === unknownApiToken)).toBe(false);
  });

  test("when a service-account token is used outside the lookups, then 401: it only grants admission lookups", async () => {
    expect((await app.http.get(`/v1/images/sha256:${"a".repeat(64)}`).set(bearer(fakeJwt("kyverno-projected-token")))).status).toBe(401);
    expect((await app.http.post("/v1/reports").set(bearer(fakeJwt("kyverno-projected-token"))).send({})).status).toBe(401);
  });

  test("when the Kubernetes API refuses the TokenReview (no RBAC), then 502 problem naming tokenreviews, and the refusal is not cached", async () => {
    kube.tokens.set(fakeJwt("fresh-token"), { username: KYVERNO, audiences: [AUDIENCE] });
    kube.failWith = 403;
    try {
      const res = await app.http.get(lookupPath("f")).set(bearer(fakeJwt("fresh-token")));
      expect(res.status).toBe(502);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe("token_review_failed");
      expect(res.body.detail).toMatch(/tokenreviews/);
    } finally {
      kube.failWith = null;
    }
    expect((await app.http.get(lookupPath("f")).set(bearer(fakeJwt("fresh-token")))).status).toBe(200);
  });
});

describe("KUBERNETES_ALLOWED_USERS", () => {
  let restricted: TestApp;
  beforeAll(async () => {
    restricted = await startTestApp({ env: kubernetesEnv({ KUBERNETES_ALLOWED_USERS: `${KYVERNO}, system:serviceaccount:x:y` }) });
  });
  afterAll(async () => restricted?.close());

  test("when a listed service account asks, then 200", async () => {
    expect((await restricted.http.get(lookupPath("1")).set(bearer(fakeJwt("kyverno-projected-token")))).status).toBe(200);
  });

  test("when another authenticated service account asks, then 403 insufficient_scope", async () => {
    const res = await restricted.http.get(lookupPath("1")).set(bearer(fakeJwt("someone-token")));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("insufficient_scope");
  });
});

describe("configuration", () => {
  test("when LOOKUP_AUTH=kubernetes has no API address, then the start stops naming KUBERNETES_API_URL", () => {
    const { loadConfig } = require("../../src/config") as typeof import("../../src/config");
    expect(() => loadConfig({ LOOKUP_AUTH: "kubernetes" })).toThrow(/KUBERNETES_API_URL/);
    expect(loadConfig({ LOOKUP_AUTH: "kubernetes", KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }).kubernetesApiUrl).toBe(
      "https://10.0.0.1:443",
    );
  });
});
