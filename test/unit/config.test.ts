import { spawnSync } from "node:child_process";
import path from "node:path";
import { ConfigError, loadConfig } from "../../src/config";

describe("configuration is parsed once, at start", () => {
  test("when nothing is set, then the documented defaults apply", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      databaseUrl: undefined,
      maxReportBytes: 50 * 1024 * 1024,
      logLevel: "info",
      lookupAuth: "token",
      decisionLogRetentionDays: 30,
    });
    expect(config.dataDir).toBe(path.resolve("./.data"));
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("when sizes are written with units, then they are read as bytes", () => {
    expect(loadConfig({ MAX_REPORT_BYTES: "8kb" }).maxReportBytes).toBe(8192);
    expect(loadConfig({ MAX_REPORT_BYTES: "1gb" }).maxReportBytes).toBe(1024 ** 3);
    expect(loadConfig({ MAX_REPORT_BYTES: "123456" }).maxReportBytes).toBe(123456);
  });

  test.each([
    ["PORT", "eighty"],
    ["PORT", "70000"],
    ["DATABASE_URL", "mysql://x"],
    ["MAX_REPORT_BYTES", "lots"],
    ["LOG_LEVEL", "loud"],
    ["LOOKUP_AUTH", "maybe"],
    ["ADMIN_TOKEN", "short"],
    // Bearer tokens over 256 characters are refused before any lookup, so a longer ADMIN_TOKEN could never be used.
    ["ADMIN_TOKEN", "x".repeat(257)],
    ["ECR_REGISTRIES", "12345"],
    ["ECR_REGISTRIES", "123456789012.zz-evil-9"],
    ["ECR_REGISTRIES", "123456789012,none"],
  ])("when %s=%s, then the start stops with a message naming the variable", (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(name);
  });

  test("when ECR_REGISTRIES lists accounts and account.region pairs, then each is read; none and unset are kept apart", () => {
    expect(loadConfig({ ECR_REGISTRIES: "123456789012, 210987654321.eu-west-1" }).ecrRegistries).toEqual([
      { accountId: "123456789012", region: null },
      { accountId: "210987654321", region: "eu-west-1" },
    ]);
    expect(loadConfig({ ECR_REGISTRIES: "none" }).ecrRegistries).toBe("none");
    expect(loadConfig({}).ecrRegistries).toBeUndefined();
    expect(loadConfig({}).awsConfigured).toBe(false);
    expect(loadConfig({ AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/x", AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/token" }).awsConfigured).toBe(true);
  });

  test("when only one of TLS_CERT_FILE and TLS_KEY_FILE is set, then the start stops", () => {
    expect(() => loadConfig({ TLS_CERT_FILE: "/tmp/cert.pem" })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE/);
  });

  test("when `scan-registry serve` starts with a bad variable, then it exits 2 naming it, before touching any database", () => {
    const main = path.join(__dirname, "../../dist/main.js");
    const result = spawnSync(process.execPath, [main, "serve"], {
      env: { ...process.env, PORT: "not-a-port", DATA_DIR: "/nonexistent/never-created" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/PORT/);
  });
});
