import fs from "node:fs";
import path from "node:path";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env, timeoutMs: 30_000 });

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
