import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { gunzipSync } from "node:zlib";
import { FIXTURES_DIR, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) => runCli(args, { env, timeoutMs });

const fixture = (name: string) => path.join(FIXTURES_DIR, name);

/** A juice-shop report padded past 5 MB (every description longer), as Trivy could have written it; returns its path. */
function writeLargeReport(name: string, digestSeed: string): string {
  const report = readFixtureJson("juice-shop-v10.2.0.json");
  report.ArtifactName = "bkimminich/juice-shop-large:v10.2.0";
  report.Metadata.RepoTags = ["bkimminich/juice-shop-large:v10.2.0"];
  report.Metadata.RepoDigests = [`bkimminich/juice-shop-large@${fakeDigest(digestSeed)}`];
  const vulns = report.Results.flatMap((r: any) => r.Vulnerabilities ?? []);
  // Without the secret finding: its code lines would be masked in the stored copy (docs/security.md), and these tests
  // compare the stored copy with the file byte for byte.
  for (const r of report.Results) delete r.Secrets;
  const pad = "x".repeat(Math.ceil((6 * 1024 * 1024) / vulns.length));
  for (const v of vulns) v.Description = `${v.Description ?? ""} ${pad}`;
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(report));
  expect(fs.statSync(file).size).toBeGreaterThan(5 * 1024 * 1024);
  return file;
}
const alpineDigest = fakeDigest("cli-alpine-310");
const juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

let app: TestApp;
let down: string;
let env: Record<string, string>;
let tmp: string;
beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/upload.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  app = await startTestApp();
  env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
  down = `http://127.0.0.1:${await closedPort()}`;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-cli-"));
});
afterAll(async () => {
  await app?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("scan-registry upload", () => {
  test("when a compliant image's report is uploaded with --digest, then it prints the verdict and summary and exits 0", async () => {
    const run = await cli(["upload", fixture("alpine-310.json.golden"), "--digest", alpineDigest, "--image", "registry.example.com/team/alpine:3.10"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^report [0-9a-f-]{36} \(trivy\)$/m);
    expect(run.stdout).toMatch(/^findings: critical 0, high \d+, medium \d+, low \d+, unknown \d+; fixable \d+; secrets 0; misconfigurations 0$/m);
    expect(run.stdout).toContain(`✔ compliant     ${alpineDigest} registry.example.com/team/alpine [3.10]`);
    const stored = await app.http.get(`/v1/images/${alpineDigest}`).set("Authorization", `Bearer ${app.adminToken}`);
    expect(stored.body).toMatchObject({ is_compliant: true, repository: "registry.example.com/team/alpine" });
  });

  test("when a non-compliant image's report is uploaded, then it prints the reasons with the CVE IDs and exits 1", async () => {
    const run = await cli(["upload", fixture("juice-shop-v10.2.0.json")], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`✘ non_compliant ${juiceDigest}`);
    expect(run.stdout).toMatch(/^ {4}- .*CRITICAL.*CVE-\d{4}-\d+/m);
    expect(run.stderr).toBe("error: 1 of 1 image may not run\n");
  });

  test("when --json is given and the same report is uploaded again, then the API answer is printed with duplicate: true", async () => {
    const run = await cli(["upload", fixture("alpine-310.json.golden"), "--digest", alpineDigest, "--json"], env);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({ duplicate: true, format: "trivy", images: [{ image_digest: alpineDigest, is_compliant: true }] });
  });

  test("when the report file does not exist, then it exits 2 naming the file", async () => {
    const run = await cli(["upload", path.join(tmp, "nope.json")], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`error: cannot read ${path.join(tmp, "nope.json")}: ENOENT\n`);
    expect(run.stdout).toBe("");
  });

  test("when the token is wrong, then it exits 2 with the service's 401", async () => {
    const run = await cli(["upload", fixture("alpine-310.json.golden"), "--digest", alpineDigest, "--token", "sr_wrong_token_0000000000000000"], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: POST \/v1\/reports\?digest=sha256%3A[0-9a-f]{64} failed: HTTP 401 \(unauthorized\)/);
  });

  test("when the service cannot be reached, then it exits 2 saying so", async () => {
    const run = await cli(["upload", fixture("alpine-310.json.golden"), "--digest", alpineDigest, "--url", down], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`error: could not connect to ${down}: connection refused\n`);
  });

  test("when the service refuses the report, then it exits 2 with the problem's code and detail", async () => {
    // alpine-310 names no RepoDigests: without --digest the service refuses it (422 missing_digest).
    const missing = await cli(["upload", fixture("alpine-310.json.golden")], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/HTTP 422 \(missing_digest\): .*digest/);
    const notReport = path.join(tmp, "not-a-report.json");
    fs.writeFileSync(notReport, JSON.stringify({ hello: "world" }));
    const refused = await cli(["upload", notReport, "--digest", alpineDigest], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/HTTP 415/);
  });

  test("when the report is larger than 5 MB, then it is streamed gzip-compressed with progress on stderr and stored byte for byte", async () => {
    const file = writeLargeReport("large.json", "cli-large");

    const run = await cli(["upload", file, "--json"], { ...env, GITHUB_ACTIONS: "true" });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines.slice(0, -1).every((l) => /^uploading .*large\.json: \d+\.\d MB of \d+\.\d MB \(\d+%\)$/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith("uploading")).at(-1)).toMatch(/\(100%\)$/);
    expect(lines.at(-1)).toBe("error: 1 of 1 image may not run");
    const answer = JSON.parse(run.stdout);
    // fetch decodes the stored gzip it is served.
    const raw = await fetch(`${app.service.url}/v1/reports/${answer.report_id}/raw`, { headers: { Authorization: `Bearer ${app.adminToken}` } });
    expect(Buffer.from(await raw.arrayBuffer()).equals(fs.readFileSync(file))).toBe(true);
    const meta = await app.http.get(`/v1/reports/${answer.report_id}`).set("Authorization", `Bearer ${app.adminToken}`);
    expect(meta.body.source).toBe("github-actions");
  });

  test("when a report larger than 5 MB is uploaded with --no-progress, then it is still streamed (chunked, no Content-Length) and prints no progress", async () => {
    const file = writeLargeReport("large-quiet.json", "cli-large-quiet");
    // A stand-in service that records how the body came and answers as POST /v1/reports does.
    const seen: Array<{ headers: http.IncomingHttpHeaders; body: Buffer }> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ report_id: "00000000-0000-4000-8000-000000000000", duplicate: false, format: "trivy", images: [], summary: {} }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const run = await cli(["upload", file, "--no-progress", "--url", url], env);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers["content-length"]).toBeUndefined();
      expect(seen[0]!.headers["transfer-encoding"]).toBe("chunked");
      expect(seen[0]!.headers["content-encoding"]).toBe("gzip");
      expect(gunzipSync(seen[0]!.body).equals(fs.readFileSync(file))).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test.each([[[] as string[]], [["--no-progress"]]])(
    "when a report larger than 5 MB vanishes between its stat and its read (%j), then it exits 2 saying it cannot be read (no crash with exit 1, no hang)",
    async (flags) => {
      const file = writeLargeReport("vanishing.json", "cli-vanishing");
      // Deletes the report just after the CLI's stat of it, as a CI workspace being cleaned up could. Piped with
      // .pipe(), the read stream's error had no listener: the process crashed with exit 1, CI's "not compliant".
      const preload = path.join(tmp, "vanish-after-stat.js");
      fs.writeFileSync(
        preload,
        `const fs = require("node:fs");
const statSync = fs.statSync;
fs.statSync = function (p, ...rest) {
  const stat = statSync.call(this, p, ...rest);
  if (String(p) === process.env.VANISH_FILE) fs.unlinkSync(p);
  return stat;
};
`,
      );
      const started = Date.now();
      const run = await cli(["upload", file, "--digest", fakeDigest("cli-vanishing"), ...flags], { ...env, NODE_OPTIONS: `--require ${preload}`, VANISH_FILE: file }, 20_000);
      expect(fs.existsSync(file)).toBe(false);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`error: cannot read ${file}: ENOENT\n`);
      expect(Date.now() - started).toBeLessThan(15_000);
    },
    30_000,
  );
});

describe("scan-registry check", () => {
  test("when the image is compliant, then it prints the verdict and exits 0", async () => {
    const run = await cli(["check", alpineDigest], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`✔ compliant     ${alpineDigest}`);
    expect(run.stdout).toMatch(/policy version 1, scanned /);
  });

  test("when a tag names a non-compliant image, then it prints the digest and reasons and exits 1", async () => {
    const run = await cli(["check", "bkimminich/juice-shop:v10.2.0", "--namespace", "cli-prod"], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`✘ non_compliant bkimminich/juice-shop:v10.2.0 (${juiceDigest})`);
    expect(run.stdout).toMatch(/CVE-\d{4}-\d+/);
    expect(run.stderr).toBe("error: bkimminich/juice-shop:v10.2.0 may not run (non_compliant)\n");
    await app.flushDecisions();
    const { rows } = await app.database.db.pool.query("SELECT image_digest, namespace, is_compliant FROM admission_decisions WHERE namespace = 'cli-prod'");
    expect(rows).toEqual([{ image_digest: juiceDigest, namespace: "cli-prod", is_compliant: false }]);
  });

  test("when the image was never uploaded, then it is not_scanned and exits 1", async () => {
    const run = await cli(["check", `ghcr.io/acme/unknown@${fakeDigest("cli-unknown")}`, "--json"], env);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ is_compliant: false, status: "not_scanned" });
  });

  test("when the reference is malformed, the token missing or the service down, then it exits 2", async () => {
    const malformed = await cli(["check", "UPPER/Case::"], env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/HTTP 400 \(invalid_image\)/);
    const noToken = await cli(["check", alpineDigest], { SCAN_REGISTRY_URL: app.service.url });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/HTTP 401[\s\S]*hint: pass --token or set SCAN_REGISTRY_TOKEN/);
    const unreachable = await cli(["check", alpineDigest, "--url", down], env);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toBe(`error: could not connect to ${down}: connection refused\n`);
  });
});
