import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTestApp, type TestApp } from "../support/test-app";
import { CENTOS_7, rawVulnerabilities, SECRETS, uploadFixture, verdict } from "../http/policy-support";
import { runCli } from "../support/cli-process";

const cli = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) => runCli(args, options);

let app: TestApp;
let env: Record<string, string>;
let secrets: string;
let centos: string;
let dir: string;

beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/policy.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  app = await startTestApp();
  env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
  secrets = await uploadFixture(app, SECRETS, { image: "registry.example.com/team/app:1.0" });
  centos = await uploadFixture(app, CENTOS_7, { image: "quay.io/centos/centos:7" });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-cli-"));
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await app?.close();
});

describe("scan-registry policy", () => {
  test("when shown, then the policy in force is printed, as text or as the API's JSON", async () => {
    const text = await cli(["policy", "show"], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Policy version 1, set by default/);
    expect(text.stdout).toMatch(/CRITICAL ≤ 0/);
    const json = await cli(["policy", "show", "--json", "--url", app.service.url, "--token", app.adminToken]);
    expect(JSON.parse(json.stdout)).toMatchObject({ version: 1, rules: { block_secrets: true } });
  });

  test("when set from a file, then a new version is in force and every image is re-evaluated", async () => {
    const file = path.join(dir, "policy.json");
    fs.writeFileSync(file, JSON.stringify({ max_severity_counts: { CRITICAL: 0, LOW: 0 } }));
    const run = await cli(["policy", "set", file, "--json"], { env });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout);
    expect(body).toMatchObject({ version: 2, reevaluated: 2, rules: { max_severity_counts: { CRITICAL: 0, LOW: 0 } } });
    expect(await verdict(app, centos)).toMatchObject({ is_compliant: false, policy_version: 2 });
  });

  test("when set from standard input in `policy show --json` form, then its rules are taken", async () => {
    const shown = JSON.parse((await cli(["policy", "show", "--json"], { env })).stdout);
    shown.rules.ignore_unfixed = true;
    const run = await cli(["policy", "set", "-"], { env, stdin: JSON.stringify(shown) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Policy version 3 is in force: 2 images re-evaluated/);
    expect((await app.http.get("/v1/policy").set("Authorization", `Bearer ${app.adminToken}`)).body.rules.ignore_unfixed).toBe(true);
  });

  test("when set with rule flags only, then they change the policy in force and keep its other rules", async () => {
    const lowFixed = rawVulnerabilities(CENTOS_7, "LOW", { ignoreUnfixed: true }).length;
    const run = await cli(["policy", "set", "--max-low", String(lowFixed), "--no-block-secrets", "--json"], { env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules).toMatchObject({ max_severity_counts: { CRITICAL: 0, LOW: lowFixed }, ignore_unfixed: true, block_secrets: false });
    expect(await verdict(app, centos)).toMatchObject({ is_compliant: true });
    const cleared = await cli(["policy", "set", "--max-low", "none", "--block-secrets", "--json"], { env });
    expect(JSON.parse(cleared.stdout).rules).toMatchObject({ max_severity_counts: { CRITICAL: 0 }, block_secrets: true });
  });

  test("when a dry-run is asked for, then the turning images are listed and nothing changes", async () => {
    const version = (await app.http.get("/v1/policy").set("Authorization", `Bearer ${app.adminToken}`)).body.version;
    const run = await cli(["policy", "dry-run", "--no-block-secrets"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^1 of 2 images would change/);
    expect(run.stdout).toContain(`${secrets}  registry.example.com/team/app  non_compliant → compliant`);
    expect((await app.http.get("/v1/policy").set("Authorization", `Bearer ${app.adminToken}`)).body.version).toBe(version);
  });

  test.each([
    ["an invalid rule", ["policy", "set", "--max-high", "-1"], /--max-high must be a whole number/],
    ["an unknown severity", ["policy", "set", "--block-misconfigurations", "SEVERE"], /HTTP 422.*\n\s+body\.block_misconfiguration_severities\.0/],
    ["nothing to set", ["policy", "set"], /nothing to set/],
    ["a missing file", ["policy", "set", "/nonexistent/policy.json"], /cannot read/],
    ["no token", ["policy", "set", "--max-high", "1", "--token", ""], /HTTP 401/],
  ])("when given %s, then it exits 2 with the reason on stderr and writes nothing", async (_what, args, message) => {
    const before = await app.database.rowCounts();
    const run = await cli(args, { env: args.includes("--token") ? { SCAN_REGISTRY_URL: app.service.url } : env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe("");
    expect((await app.database.rowCounts()).policy_versions).toBe(before.policy_versions);
  });
});

describe("scan-registry exceptions", () => {
  test("when added, listed and removed, then the image flips to compliant and back, and the audit row stays", async () => {
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: false });
    const add = await cli(
      ["exceptions", "add", "--vulnerability", "github-pat", "--digest", secrets, "--reason", "fixture tokens", "--expires-in", "30d", "--json"],
      { env },
    );
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const created = JSON.parse(add.stdout);
    expect(created).toMatchObject({ vulnerability_id: "github-pat", image_digest: secrets, created_by: "admin (ADMIN_TOKEN)", changed: 1 });
    const days = (Date.parse(created.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: true });

    const list = await cli(["exceptions", "list"], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+VULNERABILITY\s+SCOPE/);
    expect(list.stdout).toContain(created.id);

    const remove = await cli(["exceptions", "remove", created.id], { env });
    expect(remove.code).toBe(0);
    expect(remove.stdout).toMatch(/Withdrew exception/);
    expect(remove.stdout).toMatch(/1 images re-evaluated, 1 changed/);
    expect(await verdict(app, secrets)).toMatchObject({ is_compliant: false });
    expect((await cli(["exceptions", "list"], { env })).stdout.trim()).toBe("no exceptions");
    const all = JSON.parse((await cli(["exceptions", "list", "--all", "--json"], { env })).stdout);
    expect(all.items).toEqual([expect.objectContaining({ id: created.id, state: "revoked" })]);
  });

  test("when --requested-by and a repository glob are given, then the token's name is the author and the requester is kept beside it", async () => {
    const run = await cli(
      ["exceptions", "add", "--vulnerability", "DS002", "--repository", "team/*", "--reason", "accepted", "--requested-by", "alice", "--json"],
      { env },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      vulnerability_id: "DS002",
      repository: "docker.io/team/*",
      created_by: "admin (ADMIN_TOKEN)",
      requested_by: "alice",
      expires_at: null,
    });
    const shown = await cli(["exceptions", "list"], { env });
    expect(shown.stdout).toContain("alice");
  });

  test("when --justification is given, then it is stored and shown; a value OpenVEX does not define exits 2", async () => {
    const run = await cli(
      ["exceptions", "add", "--vulnerability", "CVE-2099-0003", "--reason", "not shipped", "--justification", "component_not_present", "--json"],
      { env },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ vulnerability_id: "CVE-2099-0003", justification: "component_not_present" });
    const bad = await cli(["exceptions", "add", "--vulnerability", "CVE-2099-0004", "--reason", "x", "--justification", "nope"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/body\.justification: must be one of OpenVEX's justifications/);
  });

  test("when --created-by is given, then it exits 2 saying the token's name is recorded, and nothing is stored", async () => {
    const before = (await cli(["exceptions", "list", "--all", "--json"], { env })).stdout;
    const run = await cli(["exceptions", "add", "--vulnerability", "DS002", "--reason", "accepted", "--created-by", "the-ciso"], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--created-by is not accepted.*--requested-by/);
    expect((await cli(["exceptions", "list", "--all", "--json"], { env })).stdout).toBe(before);
  });

  test.each([
    ["a malformed ID", ["--vulnerability", "CVE-1", "--reason", "x"], /body\.vulnerability_id/],
    ["a bad duration", ["--vulnerability", "DS002", "--reason", "x", "--expires-in", "soon"], /--expires-in/],
    ["a past expiry", ["--vulnerability", "DS002", "--reason", "x", "--expires-at", "2020-01-01T00:00:00Z"], /body\.expires_at: must be in the future/],
    ["no reason", ["--vulnerability", "DS002"], /--reason/],
  ])("when added with %s, then it exits 2 with the reason on stderr", async (_what, args, message) => {
    const run = await cli(["exceptions", "add", ...args], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  test("when exported, then the ignore file goes to stdout or --output, the OpenVEX document likewise, and a bad format exits 2", async () => {
    const yaml = await cli(["exceptions", "export", "--format", "trivyignore", "--image", secrets], { env });
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/^# \.trivyignore\.yaml written by scan-registry/);
    expect(yaml.stdout).toMatch(/vulnerabilities:\n {2}- id: CVE-2099-0003\n/);
    const file = path.join(dir, "vex.json");
    const vex = await cli(["exceptions", "export", "--format", "openvex", "--image", secrets, "--output", file], { env });
    expect(vex.code).toBe(0);
    expect(vex.stdout).toBe("");
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(doc["@context"]).toBe("https://openvex.dev/ns/v0.2.0");
    expect(doc.statements).toEqual([
      expect.objectContaining({ vulnerability: { name: "CVE-2099-0003" }, status: "not_affected", justification: "component_not_present" }),
    ]);
    const bad = await cli(["exceptions", "export", "--format", "sarif", "--image", secrets], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/query\.format/);
    const neither = await cli(["exceptions", "export", "--format", "openvex"], { env });
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--image or --repository/);
  });

  test("when an unknown exception is removed, then it exits 2 with 404", async () => {
    const run = await cli(["exceptions", "remove", "00000000-0000-4000-8000-000000000000"], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/HTTP 404 \(exception_not_found\)/);
  });
});

describe("scan-registry reevaluate", () => {
  test("when an admin runs it, then every image is re-evaluated; a non-admin token exits 2 with 403", async () => {
    const run = await cli(["reevaluate"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Re-evaluated 2 images under policy version \d+: 0 changed\.$/m);
    const writer = await app.token("policy:write");
    const refused = await cli(["reevaluate", "--token", writer], { env: { SCAN_REGISTRY_URL: app.service.url } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/HTTP 403/);
  });
});
