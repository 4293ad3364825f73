import fs from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TestCertificates } from "./certificates";

export interface ServiceAccountToken {
  username: string;
  audiences: string[];
}

export interface FakeKubernetes {
  url: string;
  /** Bearer token the caller (scan-registry) must present to be allowed to create tokenreviews. */
  callerToken: string;
  /** Tokens this API server knows, as a real one would from their signature. */
  tokens: Map<string, ServiceAccountToken>;
  /** Every TokenReview received (spec only), to count calls and check what was asked. */
  reviews: Array<{ token: string; audiences: string[] | undefined; authorization: string | undefined }>;
  /** When set, every TokenReview is answered with this HTTP status (e.g. 403 for missing RBAC). */
  failWith: number | null;
  /** When set, a review is answered only once the promise this returns for its token settles (to hold reviews open). */
  hold: ((token: string) => Promise<void>) | null;
  /** Reviews received and not yet answered, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** A token shaped like a Kubernetes service-account token (a compact JWS), named so that tests can tell them apart. */
export function fakeJwt(name: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", kid: "test" })}.${part({ sub: name, iss: "https://kubernetes.default.svc" })}.${Buffer.from(`signature of ${name}`).toString("base64url")}`;
}

/**
 * A loopback HTTPS server that answers the Kubernetes TokenReview API like kube-apiserver does: the caller needs a
 * token of its own, the reviewed token is authenticated only for audiences it carries, and status.audiences echoes
 * the intersection.
 */
export async function startFakeKubernetes(certs: TestCertificates, callerToken = "caller-service-account-token"): Promise<FakeKubernetes> {
  const fake: Omit<FakeKubernetes, "url" | "close"> = { callerToken, tokens: new Map(), reviews: [], failWith: null, hold: null, inFlight: 0, maxInFlight: 0 };
  const server = https.createServer({ cert: fs.readFileSync(certs.certFile), key: fs.readFileSync(certs.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/apis/authentication.k8s.io/v1/tokenreviews") return send(404, { kind: "Status", code: 404 });
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { spec: { token: string; audiences?: string[] } };
      fake.reviews.push({ token: review.spec.token, audiences: review.spec.audiences, authorization: req.headers.authorization });
      fake.inFlight += 1;
      fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
      res.on("close", () => (fake.inFlight -= 1));
      if (fake.hold) await fake.hold(review.spec.token).catch(() => undefined);
      if (req.headers.authorization !== `Bearer ${fake.callerToken}`) return send(401, { kind: "Status", code: 401, reason: "Unauthorized" });
      if (fake.failWith) return send(fake.failWith, { kind: "Status", code: fake.failWith, reason: "Forbidden" });
      const known = fake.tokens.get(review.spec.token);
      const wanted = review.spec.audiences ?? [];
      const audiences = known ? (wanted.length ? known.audiences.filter((a) => wanted.includes(a)) : known.audiences) : [];
      const authenticated = !!known && audiences.length > 0;
      send(201, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: review.spec,
        status: authenticated
          ? { authenticated: true, user: { username: known!.username, uid: "0000", groups: ["system:serviceaccounts"] }, audiences }
          : { authenticated: false, error: known ? "token audiences are invalid for the target audiences" : "invalid bearer token" },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(fake, {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
