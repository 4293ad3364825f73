import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startReceiver, verifySignature, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env, timeoutMs: 30_000 });

const SECRET = "cli-secret-0123456789abcdef";
let app: TestApp;
let receiver: Receiver;
let asAdmin: Record<string, string>;

beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/notifications.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  receiver = await startReceiver();
  app = await startTestApp({ env: { NOTIFICATION_ALLOW_PRIVATE_NETWORKS: "true" } });
  asAdmin = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: app.adminToken };
});
afterAll(async () => {
  await app?.close();
  await receiver?.close();
});

test("when an admin adds a signed destination, tests it, adds a rule and lists everything, then each command says what it did", async () => {
  const added = await cli(["notifications", "destinations", "add", "--name", "cli-hook", "--type", "webhook", "--endpoint", `${receiver.url}/cli`, "--secret-env", "HOOK_SECRET", "--json"], { ...asAdmin, HOOK_SECRET: SECRET });
  expect(added.stderr).toBe("");
  expect(added.code).toBe(0);
  const destination = JSON.parse(added.stdout);
  expect(destination).toMatchObject({ name: "cli-hook", has_secret: true });
  expect(added.stdout).not.toContain(SECRET);

  const tested = await cli(["notifications", "destinations", "test", destination.id], asAdmin);
  expect(tested.code).toBe(0);
  expect(tested.stdout).toMatch(/^Delivered \(HTTP 200, \d+ ms\)\./);
  const request = receiver.requests.at(-1)!;
  expect(verifySignature(request.headers["x-scan-registry-signature"] as string, request.body, SECRET)).toBe(true);

  const rule = await cli(["notifications", "rules", "add", "--name", "crit", "--destination", destination.id, "--events", "verdict.changed,exception.expiring", "--min-severity", "critical"], asAdmin);
  expect(rule.code).toBe(0);
  expect(rule.stdout).toMatch(/^Added rule "crit" \(.+\): verdict\.changed, exception\.expiring → cli-hook; filters: >=CRITICAL\.$/m);

  const destinations = await cli(["notifications", "destinations", "list"], asAdmin);
  expect(destinations.stdout).toMatch(/cli-hook\s+webhook\s+yes/);
  const rules = await cli(["notifications", "rules", "list"], asAdmin);
  expect(rules.stdout).toMatch(/crit\s+cli-hook \(webhook\)\s+verdict\.changed,exception\.expiring\s+>=CRITICAL/);
  const deliveries = await cli(["notifications", "deliveries", "--destination", destination.id], asAdmin);
  expect(deliveries.stdout).toMatch(/test\s+\S+\s+1\s+delivered\s+200/);
});

test("when the secret is passed from a file, then it is used; when its variable is unset, then exit 2 before any request", async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sr-cli-")), "secret");
  fs.writeFileSync(file, `${SECRET}\n`);
  const fromFile = await cli(["notifications", "destinations", "add", "--name", "from-file", "--type", "cloudevents", "--endpoint", `${receiver.url}/ce`, "--secret-file", file], asAdmin);
  expect(fromFile.code).toBe(0);
  const { rows } = await app.database.db.pool.query("SELECT secret FROM notification_destinations WHERE name = 'from-file'");
  expect(rows[0].secret).toBe(SECRET);
  const unset = await cli(["notifications", "destinations", "add", "--name", "nope", "--type", "webhook", "--endpoint", `${receiver.url}/x`, "--secret-env", "NOT_SET_ANYWHERE"], asAdmin);
  expect(unset.code).toBe(2);
  expect(unset.stderr).toContain("NOT_SET_ANYWHERE is not set");
});

test("when a test message is not delivered, then the command exits 2 with the receiver's answer", async () => {
  const added = await cli(["notifications", "destinations", "add", "--name", "failing", "--type", "slack", "--endpoint", `${receiver.url}/failing`, "--json"], asAdmin);
  const destination = JSON.parse(added.stdout);
  receiver.script(["500"]);
  const tested = await cli(["notifications", "destinations", "test", destination.id], asAdmin);
  expect(tested.code).toBe(2);
  expect(tested.stdout).toContain("Not delivered: HTTP 500: receiver exploded");
  const removed = await cli(["notifications", "destinations", "remove", destination.id], asAdmin);
  expect(removed.stdout).toBe(`Deleted destination "failing" (${destination.id}).\n`);
});

test("when a read-only token manages destinations, then the API's 403 is printed and the exit code is 2", async () => {
  const reader = await app.token("compliance:read");
  const run = await cli(["notifications", "destinations", "list"], { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: reader });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain("HTTP 403 (insufficient_scope)");
});
