import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The CLI runs as a process from the build (`npm run build` first). */
const MAIN = path.resolve(__dirname, "../../dist/main.js");

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/upload.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
});

// runCli is the one place that reports a ConfigError: the message as is (no "error: " prefix), exit 2.
test.each([["serve"], ["migrate"]])("when '%s' starts with a bad variable, then it prints the configuration message alone and exits 2", async (command) => {
  const run = await cli([command], { PORT: "not-a-port", DATA_DIR: "/nonexistent/never-created", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/^Invalid configuration:\n {2}- PORT: .+\n$/);
  expect(run.stdout).toBe("");
  expect(fs.existsSync("/nonexistent/never-created")).toBe(false);
});
