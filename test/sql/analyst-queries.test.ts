/**
 * Every ```sql block of docs/sql.md, run as written. Named queries (`-- name:`) run as a scan_analyst login with the
 * parameters of their `-- params:` line, against a database filled through the HTTP API with the real Trivy fixtures,
 * admission lookups, an exception and a policy change; each must return rows (unless marked `-- expect: any`).
 * DBA snippets (`-- dba:`) run as the database owner inside a transaction that is rolled back. The table reference
 * must name every table, view and column of the schema.
 */
import fs from "node:fs";
import path from "node:path";
import type { Pool } from "pg";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { deploymentPods, podList } from "../support/pods";
import { fakeDigest } from "../support/trivy-counts";
import { createAnalystLogin, type AnalystLogin } from "./support/analyst-login";

const DOC = fs.readFileSync(path.resolve(__dirname, "../../docs/sql.md"), "utf8");
const blocks = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);

interface NamedQuery {
  name: string;
  sql: string;
  params: unknown[];
  expectRows: boolean;
}
const queries: NamedQuery[] = blocks
  .filter((b) => /^-- name: /m.test(b))
  .map((sql) => {
    const params = /^-- params: (.*)$/m.exec(sql);
    if (!params) throw new Error(`docs/sql.md: query without a -- params: line:\n${sql}`);
    return {
      name: /^-- name: (.*)$/m.exec(sql)![1]!.trim(),
      sql,
      params: JSON.parse(params[1]!.replace(/'/g, '"')) as unknown[],
      expectRows: !/^-- expect: any$/m.test(sql),
    };
  });
const dbaSnippets = blocks.filter((b) => /^-- dba: /m.test(b));

let app: TestApp;
let analystLogin: AnalystLogin;
let analyst: Pool;
const juiceDigest = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;

/** Fixture → where it was "pushed": a digest made up for it (juice-shop has its own) and an image reference. */
const IMAGES: Array<{ fixture: string; image: string; source: string; digest?: string }> = [
  { fixture: "alpine-310.json.golden", image: "registry.example.com/team-a/alpine:3.10", source: "github-actions" },
  { fixture: "centos-7.json.golden", image: "registry.example.com/team-a/centos:7", source: "github-actions" },
  { fixture: "debian-stretch.json.golden", image: "registry.example.com/team-b/debian:stretch", source: "gitlab-ci" },
  { fixture: "ubuntu-1804.json.golden", image: "registry.example.com/team-b/ubuntu:18.04", source: "gitlab-ci" },
  { fixture: "fluentd-gems.json.golden", image: "registry.example.com/team-b/fluentd:1.0", source: "gitlab-ci" },
  { fixture: "sl-micro-rancher5.4.json.golden", image: "registry.example.com/team-c/sl-micro:5.4", source: "github-actions" },
  { fixture: "misconfigurations_and_secrets.json", image: "registry.example.com/team-c/app:secrets", source: "github-actions" },
  { fixture: "juice-shop-v10.2.0.json", image: "docker.io/bkimminich/juice-shop:v10.2.0", source: "manual", digest: juiceDigest },
];
const digestOf = (fixture: string) => IMAGES.find((i) => i.fixture === fixture)!.digest!;

async function lookUpEverything(namespace: string): Promise<void> {
  for (const { digest, image } of IMAGES) {
    await app.http.get(`/v1/images/${digest}/compliance`).query({ namespace, image }).set({ Authorization: `Bearer ${app.adminToken}` }).expect(200);
  }
  await app.http.get("/v1/compliance").query({ image: "docker.io/library/nginx:1.27", namespace }).set({ Authorization: `Bearer ${app.adminToken}` }).expect(200);
}

beforeAll(async () => {
  app = await startTestApp();
  const json = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
  for (const entry of IMAGES) {
    entry.digest ??= fakeDigest(`sql-guide:${entry.fixture}`);
    await app.http
      .post("/v1/reports")
      .query({ digest: entry.digest, image: entry.image, source: entry.source })
      .set(json)
      .send(readFixture(entry.fixture).toString())
      .expect(201);
  }
  await lookUpEverything("prod");
  await app.flushDecisions();
  await app.http
    .post("/v1/exceptions")
    .set(json)
    .send({ vulnerability_id: "CVE-2019-18224", repository: "registry.example.com/team-b/*", reason: "patched build ships next sprint", expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString() })
    .expect(201);
  // A stricter policy (at most 3 MEDIUM) turns alpine, debian and ubuntu non-compliant: a verdict change to find.
  await app.http.put("/v1/policy").set(json).send({ max_severity_counts: { CRITICAL: 0, MEDIUM: 3 } }).expect(200);
  await lookUpEverything("staging");
  await app.flushDecisions();

  // What runs in cluster prod: a Deployment per image, one team per namespace; then debian's Deployment goes away.
  const pods = (without?: string) =>
    podList(
      IMAGES.filter((i) => i.fixture !== without).flatMap((i) =>
        deploymentPods({
          name: i.image.split("/").pop()!.split(":")[0]!,
          namespace: i.image.includes("/team-") ? i.image.split("/")[1]! : "web",
          replicas: 2,
          containers: [{ name: "main", image: i.image, digest: i.digest! }],
        }),
      ),
    );
  const inventory = (body: unknown) => app.http.post("/v1/inventory").query({ cluster: "prod" }).set(json).send(body as object).expect(200);
  await inventory(pods());
  await inventory(pods("debian-stretch.json.golden"));

  analystLogin = await createAnalystLogin(app, "analyst_q");
  analyst = analystLogin.pool;
});

afterAll(async () => {
  await analystLogin?.close();
  await app.close();
});

const run = async (name: string) => {
  const q = queries.find((x) => x.name === name);
  if (!q) throw new Error(`docs/sql.md has no query named "${name}"`);
  return (await analyst.query(q.sql, q.params)).rows;
};

test("when docs/sql.md is read, then it holds at least ten named analyst queries, each with its parameters", () => {
  expect(queries.length).toBeGreaterThanOrEqual(10);
  expect(new Set(queries.map((q) => q.name)).size).toBe(queries.length);
  for (const q of queries) expect((q.sql.match(/\$(\d+)/g) ?? []).map((p) => Number(p.slice(1))).every((n) => n <= q.params.length)).toBe(true);
  expect(blocks.length).toBe(queries.length + dbaSnippets.length); // every sql block is one or the other
});

test.each(queries.map((q) => [q.name, q] as const))("when an analyst runs \"%s\", then it runs as written", async (_name, q) => {
  const { rows } = await analyst.query(q.sql, q.params);
  if (q.expectRows) expect(rows.length).toBeGreaterThan(0);
});

test("when the guide's own query runs, then it answers one row: the current verdict", async () => {
  expect(await run("may this image digest run? (the current verdict, exactly one row per known digest)")).toEqual([{ is_compliant: false }]);
});

test("when asked which running images have CVE-2019-18276 (bash), then the admitted images with it are named with their namespaces", async () => {
  const rows = await run("running images with a given vulnerability");
  expect(new Set(rows.map((r) => r.image_digest))).toEqual(
    new Set([digestOf("centos-7.json.golden"), digestOf("debian-stretch.json.golden"), digestOf("ubuntu-1804.json.golden")]),
  );
  const centos = rows.find((r) => r.image_digest === digestOf("centos-7.json.golden"))!;
  expect(centos.namespaces).toEqual(["prod", "staging"]);
  expect(centos.pkg_name).toBe("bash");
});

test("when asked which running workloads have CVE-2019-18276 now, then the Deployments running centos and ubuntu are named, not the gone debian one", async () => {
  const rows = await run("running workloads with a given vulnerability");
  expect(new Set(rows.map((r) => `${r.cluster} ${r.namespace} ${r.kind}/${r.name}`))).toEqual(new Set(["prod team-a Deployment/centos", "prod team-b Deployment/ubuntu"]));
  expect(rows.find((r) => r.name === "centos")).toMatchObject({ pkg_name: "bash", image_digest: digestOf("centos-7.json.golden") });
});

test("when asked what runs that would be refused today, then exactly the running non-compliant images are listed, each with its open violation", async () => {
  const rows = await run("running containers that would be refused today");
  const { rows: expected } = await app.database.db.pool.query(
    `SELECT w.name FROM workload_containers w JOIN image_scans s USING (image_digest)
     WHERE w.cluster = 'prod' AND w.gone_at IS NULL AND NOT s.is_compliant ORDER BY 1`,
  );
  expect(expected.length).toBeGreaterThan(0);
  expect(rows.map((r) => r.name).sort()).toEqual(expected.map((r) => r.name));
  for (const r of rows) expect(r.violation_id).not.toBeNull();
});

test("when asked how long CVE-2019-18276 ran in prod, then the gone debian period has an end and the running ones none", async () => {
  const rows = await run("how long a vulnerability ran in a cluster");
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
  expect(Object.keys(byName).sort()).toEqual(["centos", "debian", "ubuntu"]);
  expect(byName.debian).toMatchObject({ running_now: false });
  expect(byName.debian.stopped).toBeInstanceOf(Date);
  expect(byName.centos).toMatchObject({ running_now: true, stopped: null });
});

test("when the policy changed, then the images whose verdict turned since their last answer under the old policy are listed with before and after", async () => {
  const rows = await run("images whose verdict changed with the latest policy version");
  const changed = Object.fromEntries(rows.map((r) => [r.image_digest, r]));
  // alpine, debian, ubuntu: more than 3 MEDIUM under policy 2; fluentd: its one CRITICAL excepted since its last answer.
  expect(Object.keys(changed).sort()).toEqual(
    ["alpine-310.json.golden", "debian-stretch.json.golden", "ubuntu-1804.json.golden", "fluentd-gems.json.golden"].map(digestOf).sort(),
  );
  expect(changed[digestOf("alpine-310.json.golden")]).toMatchObject({ status_before: "compliant", policy_before: 1, status_now: "non_compliant", policy_now: 2 });
  expect(changed[digestOf("fluentd-gems.json.golden")]).toMatchObject({ status_before: "non_compliant", status_now: "compliant" });
});

test("when an exception expires within a week, then it is listed with the images it covers", async () => {
  const rows = await run("exceptions expiring within a week");
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ vulnerability_id: "CVE-2019-18224", images_covered: "1" });
});

test("when secrets and never-scanned lookups are counted, then they come from the fixtures and the lookups made", async () => {
  const secrets = await run("secrets found per repository");
  expect(secrets.map((r) => r.repository)).toEqual(["registry.example.com/team-c/app", "docker.io/bkimminich/juice-shop"]);
  const unscanned = await run("never-scanned images asked about in the last 7 days");
  expect(unscanned).toEqual([expect.objectContaining({ image_ref: "docker.io/library/nginx:1.27", lookups: "2" })]);
});

test.each(dbaSnippets.map((s) => [s.split("\n")[0]!, s] as const))("when a DBA runs \"%s\", then it works (in a transaction rolled back)", async (_title, sql) => {
  const client = await app.database.db.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(sql);
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
});

test("when the schema is compared with the table reference, then every table, view and column is documented", async () => {
  const { rows } = await app.database.db.pool.query<{ rel: string; col: string }>(`
    SELECT c.relname AS rel, a.attname AS col
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')`);
  const reference = DOC.slice(DOC.indexOf("## Tables and views"));
  const sections = Object.fromEntries(
    reference.split(/^### /m).slice(1).map((s) => [/^`(\w+)`/.exec(s)![1]!, s]),
  );
  const missing = rows.filter((r) => !sections[r.rel]?.includes(`| \`${r.col}\` |`)).map((r) => `${r.rel}.${r.col}`);
  expect(missing).toEqual([]);
});
