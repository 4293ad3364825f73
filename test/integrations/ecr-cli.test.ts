import fs from "node:fs";
import path from "node:path";
import { basicFinding, type FakeEcr } from "../support/fake-ecr";
import { startTestApp, type TestApp } from "../support/test-app";
import { startFakeEcr } from "./ecr-support";
import { runCli } from "../support/cli-process";

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env });

let fake: FakeEcr;
let app: TestApp;
let env: Record<string, string>;

beforeAll(async () => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/ecr.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
  fake = await startFakeEcr();
  app = await startTestApp();
  env = { SCAN_REGISTRY_URL: app.service.url, SCAN_REGISTRY_TOKEN: await app.token("reports:write") };
});
afterAll(async () => {
  await app?.close();
  await fake?.stop();
});

test("when ecr import names a compliant image by tag, then exit 0 with the verdict; a non-compliant one exits 1", async () => {
  const good = fake.addImage("team/cli", { seed: "cli-good", tags: ["good"], findings: [basicFinding(1, "LOW")] });
  const ok = await cli(["ecr", "import", "--repository", "team/cli", "--tag", "good"], env);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain(`${good.digest} imported (ECR scan COMPLETE): compliant`);

  const bad = fake.addImage("team/cli", { seed: "cli-bad", findings: [basicFinding(2, "CRITICAL")] });
  const refused = await cli(["ecr", "import", "--repository", "team/cli", "--digest", bad.digest, "--json"], env);
  expect(refused.code).toBe(1);
  expect(JSON.parse(refused.stdout).images[0]).toMatchObject({ image_digest: bad.digest, status: "non_compliant" });
});

test("when ecr import fails in ECR, then exit 2 with the service's reason", async () => {
  const res = await cli(["ecr", "import", "--repository", "team/none", "--tag", "x"], env);
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/HTTP 404 \(ecr_repository_not_found\)/);
});

test("when ecr sync walks a repository over several pages, then every image is imported with progress, and exit 0", async () => {
  fake.imagesPageSize = 2;
  const digests = [
    fake.addImage("team/sync", { seed: "s1", tags: ["a"], findings: [basicFinding(1, "LOW")] }).digest,
    fake.addImage("team/sync", { seed: "s2", findings: [basicFinding(2, "CRITICAL")] }).digest,
    fake.addImage("team/sync", { seed: "s3", findings: [] }).digest,
    fake.addImage("team/sync", { seed: "s4", scanStatus: { status: "IN_PROGRESS" } }).digest,
    fake.addImage("team/sync", { seed: "s5", scanStatus: { status: "NONE" } }).digest,
  ];
  const listed = fake.callsOf("DescribeImages").length;
  const res = await cli(["ecr", "sync", "--repository", "team/sync"], env);
  expect(res.code).toBe(0);
  expect(fake.callsOf("DescribeImages").slice(listed).filter((c) => !c.body.imageIds).map((c) => c.body.nextToken ?? null)).toEqual([null, "2", "4"]);
  const progress = res.stderr.trim().split("\n");
  expect(progress).toHaveLength(5);
  for (const digest of digests) expect(progress.some((l) => l.includes(digest))).toBe(true);
  expect(progress.filter((l) => /^\[\d\/5\] sha256:[0-9a-f]{64} imported \((compliant|non_compliant)\)$/.test(l))).toHaveLength(3);
  expect(progress.filter((l) => / skipped: HTTP (409|404) \(ecr_scan_not_(complete|found)\)/.test(l))).toHaveLength(2);
  expect(res.stdout).toContain("team/sync: 5 images — 3 imported, 0 unchanged, 2 skipped (no finished scan), 0 failed; 2 compliant, 1 not compliant");

  const again = await cli(["ecr", "sync", "--repository", "team/sync"], env);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("0 imported, 3 unchanged");
});

test("when an import fails during sync, then the others still run, it is reported, and exit 2", async () => {
  // Listed newest push first: f1, then f2, whose findings page comes back garbled.
  fake.addImage("team/sync-fail", { seed: "f1", findings: [], pushedAt: new Date("2026-11-02T00:00:00Z") });
  const broken = fake.addImage("team/sync-fail", { seed: "f2", findings: [], pushedAt: new Date("2026-11-01T00:00:00Z") });
  fake.passNext("DescribeImageScanFindings");
  fake.answerNext("DescribeImageScanFindings", "{not json");
  const res = await cli(["ecr", "sync", "--repository", "team/sync-fail"], env);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(`[2/2] ${broken.digest} failed: HTTP 502 (ecr_bad_response)`);
  expect(res.stderr).toMatch(/1 of 2 images could not be imported/);
  expect(res.stdout).toContain("1 imported, 0 unchanged, 0 skipped (no finished scan), 1 failed");
});
