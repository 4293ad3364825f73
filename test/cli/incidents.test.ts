import fs from "node:fs";
import path from "node:path";
import { JUICE_SHOP, uploadFixture } from "../http/policy-support";
import { startTestApp, type TestApp } from "../support/test-app";
import { runCli } from "../support/cli-process";

const cli = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) => runCli(args, options);

let app: TestApp;
let env: Record<string, string>;
let juice: string;

beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/incidents.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  app = await startTestApp();
  juice = await uploadFixture(app, JUICE_SHOP);
  env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: await app.token("policy:write", "compliance:read") };
});
afterAll(async () => app?.close());

describe("scan-registry incidents", () => {
  let id: number;

  test("when opened with links of every shorthand, then the incident is created with each link and printed with its verdicts", async () => {
    const run = await cli(
      ["incidents", "open", "--title", "lodash in juice-shop", "--severity", "critical", "--owner", "appsec", "--link", juice, "--link", "cve-2019-10744", "--link", "docker.io/bkimminich/juice-shop", "--link", "prod/shop/Deployment/juice", "--json"],
      { env },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout);
    id = created.id;
    expect(created).toMatchObject({ title: "lodash in juice-shop", severity: "CRITICAL", owner: "appsec", created_by: "test-policy:write+compliance:read" });
    expect(created.links.map((l: any) => l.type).sort()).toEqual(["image", "repository", "vulnerability", "workload"]);
    const shown = await cli(["incidents", "show", String(id)], { env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`#${id} lodash in juice-shop`);
    expect(shown.stdout).toMatch(/image\s+sha256:b18027.*\[non_compliant\]/);
    expect(shown.stdout).toMatch(/vulnerability\s+CVE-2019-10744\s+\[1 images now, 1 not compliant\]/);
  });

  test("when a note is added from stdin, then it is in the timeline with the token's name", async () => {
    const run = await cli(["incidents", "note", String(id), "-"], { env, stdin: "Rolled back to **v10.1**.\n" });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`Added note \\d+ to incident #${id} as test-policy:write\\+compliance:read`));
    const shown = JSON.parse((await cli(["incidents", "show", String(id), "--json"], { env })).stdout);
    expect(shown.timeline.at(-1)).toMatchObject({ kind: "note", body: "Rolled back to **v10.1**.\n" });
  });

  test("when listed, then open incidents show by default and filters pass through", async () => {
    const list = await cli(["incidents", "list"], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+CRITICAL\\s+open\\s+appsec`, "m"));
    const none = await cli(["incidents", "list", "--status", "resolved"], { env });
    expect(none.stdout.trim()).toBe("no incidents");
    const json = JSON.parse((await cli(["incidents", "list", "--severity", "critical", "--json"], { env })).stdout);
    expect(json.items.map((i: any) => i.id)).toEqual([id]);
  });

  test("when the service refuses, then the problem is printed and the exit code is 2", async () => {
    const bad = await cli(["incidents", "open", "--title", "x", "--severity", "SEVERE"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/HTTP 422 \(invalid_request\)/);
    expect(bad.stderr).toMatch(/body\.severity/);
    const missing = await cli(["incidents", "show", "999999"], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/HTTP 404 \(incident_not_found\)/);
    const readOnly = await cli(["incidents", "note", String(id), "x"], { env: { ...env, SCAN_REGISTRY_TOKEN: await app.token("compliance:read") } });
    expect(readOnly.code).toBe(2);
    expect(readOnly.stderr).toMatch(/HTTP 403/);
  });
});
