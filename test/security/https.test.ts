import https from "node:https";
import tls from "node:tls";
import { generateTestCertificates, type TestCertificates } from "../support/certificates";
import { startTestApp, type TestApp } from "../support/test-app";

let certs: TestCertificates;
let app: TestApp;
beforeAll(async () => {
  certs = generateTestCertificates();
  app = await startTestApp({ env: { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile } });
});
afterAll(async () => {
  await app?.close();
  certs?.cleanup();
});

function get(path: string, options: https.RequestOptions): Promise<{ status: number; body: string; peerSubject: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${app.service.url}${path}`, { ...options, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), peerSubject: String((res.socket as tls.TLSSocket).getPeerCertificate?.()?.subject?.CN) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS_CERT_FILE and TLS_KEY_FILE", () => {
  test("when both are set, then the service listens on https", () => {
    expect(app.service.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  test("when a client trusts only the test CA (as Kyverno's caBundle does), then a lookup succeeds over TLS with that certificate", async () => {
    const res = await get(`/v1/images/sha256:${"a".repeat(64)}/compliance`, { ca: certs.ca, headers: { Authorization: `Bearer ${app.adminToken}` } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).status).toBe("not_scanned");
    expect(res.peerSubject).toBe("localhost");
  });

  test("when a client does not trust that CA, then the handshake is refused", async () => {
    await expect(get("/healthz", { ca: tls.rootCertificates.join("\n") })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  test("when only one of the two files is set, then the start stops naming both variables", () => {
    const { loadConfig } = require("../../src/config") as typeof import("../../src/config");
    expect(() => loadConfig({ TLS_CERT_FILE: certs.certFile })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE/);
  });
});
