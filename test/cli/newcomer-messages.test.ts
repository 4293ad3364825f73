import fs from "node:fs";
import path from "node:path";
import { FIXTURES_DIR } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { runCli } from "../support/cli-process";

/**
 * Issue 17 item 13: what a newcomer sees from the CLI when something is off. The CLI runs as a process from the
 * build (`npm run build` first).
 */

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env });

const fixture = (name: string) => path.join(FIXTURES_DIR, name);
const API_DIGEST_MESSAGE = "HTTP 400 (invalid_digest): The digest must be sha256: followed by 64 lowercase hex digits.";

let app: TestApp;
let env: Record<string, string>;
beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/client.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  app = await startTestApp();
  env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
});
afterAll(async () => app?.close());

describe("scan-registry check with a malformed digest", () => {
  test.each([
    ["too short", "sha256:abc"],
    ["uppercase hex", `sha256:${"AB".repeat(32)}`],
    ["an uppercase algorithm", `SHA256:${"ab".repeat(32)}`],
    ["a reference whose digest has uppercase hex", `ghcr.io/acme/api@sha256:${"CD".repeat(32)}`],
  ])("when the digest is %s, then it exits 2 with the API's message, not 1 as not_scanned", async (_what, ref) => {
    const run = await cli(["check", ref], env);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(API_DIGEST_MESSAGE);
    expect(run.stderr).not.toMatch(/not_scanned/);
    expect(run.code).toBe(2);
  });
});

describe("scan-registry upload's errors speak in its flags", () => {
  test.each([
    ["Trivy JSON", "alpine-310.json.golden", "Metadata.RepoDigests"],
    ["SARIF", "alpine-310.sarif.golden", "runs[0].properties.repoDigests"],
    ["CycloneDX", "fluentd-multiple-lockfiles-short.cdx.json.golden", "metadata.component's aquasecurity:trivy:RepoDigest property"],
  ])("when a %s report names no digest, then the message says --digest / --image and the format's own field", async (_format, file, field) => {
    const run = await cli(["upload", fixture(file)], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/HTTP 422 \(missing_digest\)/);
    expect(run.stderr).toContain("--digest sha256:… (repeatable) or --image repo@sha256:…");
    expect(run.stderr).toContain(`  --digest: required when the report has no digest in ${field}`);
    expect(run.stderr).toContain(field);
    if (field !== "Metadata.RepoDigests") expect(run.stderr).not.toContain("Metadata.RepoDigests");
    expect(run.stderr).not.toMatch(/query\.|\?digest=|\?image=/);
  });

  test("when --digest or --image is malformed, then the field errors name the flag, not query.digest", async () => {
    const run = await cli(["upload", fixture("alpine-310.json.golden"), "--digest", `sha256:${"AB".repeat(32)}`, "--digest", "sha256:abc", "--image", "Not A Ref"], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--digest (#1): must be sha256: followed by 64 lowercase hex digits");
    expect(run.stderr).toContain("--digest (#2): must be sha256: followed by 64 lowercase hex digits");
    expect(run.stderr).toContain("--image: is not a valid image reference");
    expect(run.stderr).not.toMatch(/query\./);
  });

  test("--help does not describe --digest by Trivy's field", async () => {
    const run = await cli(["upload", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--digest <digest>/);
    expect(run.stdout).not.toContain("Metadata.RepoDigests");
  });
});

describe("scan-registry upload of a report already uploaded", () => {
  test("when the same report is uploaded for a new digest, then it says that digest was linked and judged; when for none, that nothing changed", async () => {
    const first = fakeDigest("newcomer-dup-1");
    const second = fakeDigest("newcomer-dup-2");
    const report = fixture("alpine-310.json.golden");
    const created = await cli(["upload", report, "--digest", first], env);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).not.toMatch(/already uploaded/);

    const again = await cli(["upload", report, "--digest", first], env);
    expect(again.code).toBe(0);
    expect(again.stdout.split("\n")[0]).toMatch(/: already uploaded, nothing new stored$/);

    const linked = await cli(["upload", report, "--digest", second], env);
    expect(linked.code).toBe(0);
    expect(linked.stdout.split("\n")[0]).toMatch(new RegExp(`: already uploaded; linked to 1 new digest \\(${second}\\) and judged$`));
    expect(linked.stdout).not.toMatch(/nothing new stored/);
    expect(linked.stdout).toContain(second);

    const json = await cli(["upload", report, "--digest", second, "--digest", fakeDigest("newcomer-dup-3"), "--json"], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ duplicate: true, newly_linked: [fakeDigest("newcomer-dup-3")] });
  });
});

describe("scan-registry --version and unreachable services", () => {
  test("--version prints the package's version", async () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const run = await cli([flag]);
      expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });

  test("when --url names a host that does not resolve, then it names the URL and says so plainly", async () => {
    const run = await cli(["check", fakeDigest("newcomer-dns"), "--url", "http://scan-registry.invalid:8080"], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: could not connect to http:\/\/scan-registry\.invalid:8080: host not found \(DNS lookup failed/);
  });
});
