import fs from "node:fs";
import path from "node:path";
import { KubernetesTokenReviewer } from "../../src/auth/kubernetes-token-review";
import { DomainError } from "../../src/domain/errors";
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { fakeJwt, startFakeKubernetes, type FakeKubernetes } from "../support/fake-kubernetes";
import { startTestApp, type TestApp } from "../support/test-app";

/**
 * Issue 17 item 8: every distinct bogus bearer became one TokenReview made with our service-account token (2,351
 * requests → 2,386 reviews, every socket busy, Kyverno's own review waiting behind them).
 */
const AUDIENCE = "kyverno-svc.kyverno.io";
const KYVERNO = "system:serviceaccount:kyverno:kyverno-admission-controller";
const lookupPath = `/v1/images/sha256:${"a".repeat(64)}/compliance`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

let certs: TestCertificates;
let kube: FakeKubernetes;
let tokenFile: string;

beforeAll(async () => {
  certs = generateTestCertificates();
  kube = await startFakeKubernetes(certs);
  tokenFile = path.join(certs.dir, "caller-token");
  fs.writeFileSync(tokenFile, `${kube.callerToken}\n`);
});
afterAll(async () => {
  await kube?.close();
  certs?.cleanup();
});
afterEach(() => {
  kube.hold = null;
});

const reviewsOf = (token: string) => kube.reviews.filter((r) => r.token === token).length;

/** Holds the reviews of the tokens `held` selects until release() is called. */
function holdReviews(held: (token: string) => boolean): { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  kube.hold = (token) => (held(token) ? gate : Promise.resolve());
  return { release };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error(`never happened: ${what}`);
}

describe("LOOKUP_AUTH=kubernetes under a flood of bogus bearer tokens", () => {
  let app: TestApp;
  let now = Date.parse("2026-06-01T12:00:00Z");
  beforeAll(async () => {
    app = await startTestApp({
      env: { LOOKUP_AUTH: "kubernetes", KUBERNETES_API_URL: kube.url, KUBERNETES_CA_FILE: certs.caFile, KUBERNETES_TOKEN_FILE: tokenFile },
      clock: () => new Date(now),
    });
  });
  afterAll(async () => app?.close());

  test("when bearers are not shaped like a service-account token (a JWT of bounded length), then 401 and the Kubernetes API is never asked", async () => {
    const before = kube.reviews.length;
    const notJwts = [
      ...Array.from({ length: 25 }, (_, i) => `bogus-token-${i}`),
      "a.b.c",
      "one.two",
      "header.claims.signature.extra",
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln=",
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0/c2ln.c2ln",
      `eyJhbGciOiJSUzI1NiJ9.${"A".repeat(9_000)}.c2lnbmF0dXJl`,
    ];
    for (const token of notJwts) {
      const res = await app.http.get(lookupPath).set(bearer(token));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthorized");
    }
    expect(kube.reviews.length).toBe(before);
  });

  test("when many distinct unknown JWTs arrive at once, then at most 4 are reviewed at a time, the excess beyond a short queue is refused 503 token_review_busy with Retry-After, and a token seen valid before keeps answering — also when its cached answer has expired", async () => {
    const kyverno = fakeJwt("kyverno-flood-test");
    kube.tokens.set(kyverno, { username: KYVERNO, audiences: [AUDIENCE] });
    expect((await app.http.get(lookupPath).set(bearer(kyverno))).status).toBe(200);
    expect(reviewsOf(kyverno)).toBe(1);

    const bogus = Array.from({ length: 60 }, (_, i) => fakeJwt(`bogus-${i}`));
    const gate = holdReviews((token) => bogus.includes(token));
    kube.maxInFlight = 0;
    const answers: Array<{ status: number; code: string; retryAfter: string | undefined }> = [];
    const flood = bogus.map((token) =>
      app.http
        .get(lookupPath)
        .set(bearer(token))
        .then((res) => answers.push({ status: res.status, code: res.body.code, retryAfter: res.headers["retry-after"] })),
    );
    try {
      // 4 reviewing + 32 waiting: the other 24 are refused without waiting for anything.
      await until(() => kube.inFlight === 4 && answers.length >= 24, "4 reviews held and the excess refused");
      expect(kube.maxInFlight).toBe(4);
      expect(answers.every((a) => a.status === 503 && a.code === "token_review_busy" && a.retryAfter === "1")).toBe(true);

      // Seen valid, answered from memory: no review, no queue.
      expect((await app.http.get(lookupPath).set(bearer(kyverno))).status).toBe(200);
      expect(reviewsOf(kyverno)).toBe(1);
      // Its answer expired: re-reviewed in the reserved lane while the unknown tokens' lane is still full.
      now += 61_000;
      expect((await app.http.get(lookupPath).set(bearer(kyverno))).status).toBe(200);
      expect(reviewsOf(kyverno)).toBe(2);
      expect(kube.inFlight).toBe(4);
    } finally {
      gate.release();
      await Promise.all(flood);
    }
    expect(kube.maxInFlight).toBeLessThanOrEqual(5); // 4 unknown tokens, and the reserved lane's one re-review
    expect(answers.filter((a) => a.status === 200)).toEqual([]);
    expect(answers.every((a) => a.status === 401 || (a.status === 503 && a.code === "token_review_busy"))).toBe(true);
    expect(answers.filter((a) => a.status === 401).length).toBeGreaterThanOrEqual(4);
    const reviewed = bogus.filter((token) => reviewsOf(token) > 0);
    expect(reviewed.length).toBeLessThanOrEqual(36);

    // The refusals are remembered for a while: asking again costs no review.
    const before = kube.reviews.length;
    for (const token of reviewed.slice(0, 5)) expect((await app.http.get(lookupPath).set(bearer(token))).status).toBe(401);
    expect(kube.reviews.length).toBe(before);
  });
});

describe("KubernetesTokenReviewer's bounds", () => {
  const logger = { warn: () => undefined, debug: () => undefined };
  let now = 0;
  const reviewer = (limits: ConstructorParameters<typeof KubernetesTokenReviewer>[0]["limits"]) =>
    new KubernetesTokenReviewer({ apiUrl: kube.url, caFile: certs.caFile, tokenFile, audience: AUDIENCE, allowedUsers: [], logger, clock: () => now, limits });

  test("when refusals overflow their bounded cache, then the oldest is forgotten, and an accepted token is never evicted by them", async () => {
    const r = reviewer({ deniedEntries: 5, allowedEntries: 2 });
    try {
      const valid = fakeJwt("bounded-valid");
      kube.tokens.set(valid, { username: KYVERNO, audiences: [AUDIENCE] });
      expect((await r.review(valid))?.name).toBe(KYVERNO);
      const bogus = Array.from({ length: 20 }, (_, i) => fakeJwt(`bounded-bogus-${i}`));
      for (const token of bogus) expect(await r.review(token)).toBeNull();
      expect(bogus.every((token) => reviewsOf(token) === 1)).toBe(true);

      expect((await r.review(valid))?.name).toBe(KYVERNO);
      expect(reviewsOf(valid)).toBe(1);
      expect(await r.review(bogus[19]!)).toBeNull(); // still remembered
      expect(reviewsOf(bogus[19]!)).toBe(1);
      expect(await r.review(bogus[0]!)).toBeNull(); // forgotten: the cache holds 5
      expect(reviewsOf(bogus[0]!)).toBe(2);

      now += 11_000; // refusals are kept 10 s
      expect(await r.review(bogus[19]!)).toBeNull();
      expect(reviewsOf(bogus[19]!)).toBe(2);
    } finally {
      r.close();
    }
  });

  test("when the unknown lane and its queue are full, then one more fails closed at once, and a queued one after its wait, with 503 token_review_busy", async () => {
    const r = reviewer({ unknownConcurrency: 1, unknownQueue: 1, unknownWaitMs: 200 });
    const gate = holdReviews(() => true);
    try {
      const first = r.review(fakeJwt("lane-1"));
      await until(() => kube.inFlight === 1, "the first review held");
      const queued = r.review(fakeJwt("lane-2")).catch((e: unknown) => e);
      const refused = await r.review(fakeJwt("lane-3")).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DomainError);
      expect(refused).toMatchObject({ kind: "unavailable", code: "token_review_busy" });
      expect(await queued).toMatchObject({ kind: "unavailable", code: "token_review_busy" });
      expect(reviewsOf(fakeJwt("lane-2")) + reviewsOf(fakeJwt("lane-3"))).toBe(0);
      gate.release();
      expect(await first).toBeNull();
    } finally {
      gate.release();
      r.close();
    }
  });
});
