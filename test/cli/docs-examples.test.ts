import fs from "node:fs";
import path from "node:path";
import { FIXTURES_DIR, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { runCli } from "../support/cli-process";

/**
 * docs/cli.md's `check` example is what the CLI prints for the juice-shop fixture (issue 17 item 14: it showed a
 * digest that is not juice-shop's). The CLI runs as a process from the build (`npm run build` first).
 */
const DOC = path.resolve(__dirname, "../../docs/cli.md");

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env });

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

test("docs/cli.md's check example of bkimminich/juice-shop:v10.2.0 is the CLI's output, with the fixture's real digest", async () => {
  const env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
  const uploaded = await cli(["upload", path.join(FIXTURES_DIR, "juice-shop-v10.2.0.json")], env);
  expect(uploaded.code).toBe(1);
  const run = await cli(["check", "bkimminich/juice-shop:v10.2.0"], env);
  expect(run.code).toBe(1);

  const digest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
  const doc = fs.readFileSync(DOC, "utf8");
  const start = doc.indexOf("$ scan-registry check bkimminich/juice-shop:v10.2.0\n");
  expect(start).toBeGreaterThan(0);
  const block = doc.slice(start, doc.indexOf("\n$ ", start + 1) + 1).split("\n").slice(1).join("\n");
  expect(block).toContain(digest);
  expect(block).toBe(run.stdout + run.stderr);
});
