import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cleanup(): void;
}

/**
 * A throwaway CA and a server certificate it signs for 127.0.0.1 and localhost, made with the openssl CLI: the same
 * steps an operator follows for Kyverno's caBundle, so a client trusting only this CA must accept the service.
 */
export function generateTestCertificates(): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-tls-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2", "-subj", "/CN=scan-registry test CA");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=localhost");
  fs.writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file("server.crt"), "-days", "2", "-extfile", file("san.ext"));
  return {
    dir,
    caFile: file("ca.crt"),
    certFile: file("server.crt"),
    keyFile: file("server.key"),
    ca: fs.readFileSync(file("ca.crt")),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
