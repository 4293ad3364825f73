/**
 * docs/sql.md's incident questions, run as written by a scan_analyst login against incidents opened, linked and
 * resolved through the HTTP API at known times (the service's clock is injected), on real Trivy fixtures.
 */
import fs from "node:fs";
import path from "node:path";
import { ALPINE, bearer, JUICE_SHOP, uploadFixture } from "../http/policy-support";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { createAnalystLogin, type AnalystLogin } from "./support/analyst-login";
import { deploymentPods, podList } from "../support/pods";

const DOC = fs.readFileSync(path.resolve(__dirname, "../../docs/sql.md"), "utf8");

function namedQuery(name: string): { sql: string; params: unknown[] } {
  const block = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes(`-- name: ${name}\n`));
  if (!block) throw new Error(`docs/sql.md has no query named "${name}"`);
  return { sql: block, params: JSON.parse(/^-- params: (.*)$/m.exec(block)![1]!.replace(/'/g, '"')) as unknown[] };
}

const HOUR = 3_600_000;
const T0 = Date.now() - 10 * 24 * HOUR;
let now = T0;
let app: TestApp;
let analyst: AnalystLogin;
let alpine: string;
let juice: string;
const unscanned = fakeDigest("incident never scanned");

const open = async (body: Record<string, unknown>) => {
  const res = await app.http.post("/v1/incidents").set(bearer(app.adminToken)).send(body);
  expect(res.status).toBe(201);
  return res.body.id as number;
};
const resolveAt = async (id: number, at: number) => {
  now = at;
  const res = await app.http.patch(`/v1/incidents/${id}`).set(bearer(app.adminToken)).send({ status: "resolved" });
  expect(res.status).toBe(200);
};

let openCritical: number;
let openHigh: number;

beforeAll(async () => {
  app = await startTestApp({ clock: () => new Date(now) });
  alpine = await uploadFixture(app, ALPINE, { image: "registry.example.com/team-a/alpine:3.10" });
  juice = await uploadFixture(app, JUICE_SHOP);
  // Resolved: CRITICALs after 2 h and 4 h (mean 3 h), a HIGH after 4.5 h; one CRITICAL and one HIGH stay open.
  const c1 = await open({ title: "c1", severity: "CRITICAL", links: [{ image_digest: juice }] });
  const c2 = await open({ title: "c2", severity: "CRITICAL" });
  const h1 = await open({ title: "h1", severity: "HIGH" });
  await resolveAt(c1, T0 + 2 * HOUR);
  await resolveAt(c2, T0 + 4 * HOUR);
  await resolveAt(h1, T0 + 4.5 * HOUR);
  now = T0 + 5 * HOUR;
  // Juice Shop's lodash CVE (CRITICAL) and alpine's repository, plus an image never scanned.
  openCritical = await open({ title: "lodash everywhere", severity: "CRITICAL", links: [{ vulnerability_id: "CVE-2019-10744" }, { image_digest: unscanned }] });
  openHigh = await open({ title: "alpine base", severity: "HIGH", status: "investigating", links: [{ repository: "registry.example.com/team-a/alpine" }] });
  // What runs: juice-shop (blocked) in prod/shop, alpine (compliant) in prod/base, and an image never scanned.
  const pods = [
    ...deploymentPods({ name: "juice", namespace: "shop", replicas: 2, containers: [{ name: "app", image: "docker.io/bkimminich/juice-shop:v10.2.0", digest: juice }] }),
    ...deploymentPods({ name: "base", namespace: "base", replicas: 1, containers: [{ name: "alpine", image: "registry.example.com/team-a/alpine:3.10", digest: alpine }] }),
  ];
  await app.http.post("/v1/inventory").query({ cluster: "prod" }).set(bearer(app.adminToken)).send(podList(pods) as object).expect(200);
  analyst = await createAnalystLogin(app, "analyst_incidents");
});

afterAll(async () => {
  await analyst?.close();
  await app.close();
});

test("when an analyst asks for open incidents with what they concern, then each open incident lists its images with their verdicts now, resolved ones none", async () => {
  const q = namedQuery("open incidents with the images they concern and those images' current verdicts");
  const { rows } = await analyst.pool.query(q.sql, q.params);
  expect(rows.map((r) => [Number(r.incident), r.via, r.image_digest, r.verdict, r.is_compliant])).toEqual([
    // CRITICAL first; within it, the never-scanned image (no verdict) before the blocked one.
    [openCritical, "image", unscanned, "not_scanned", null],
    [openCritical, "vulnerability CVE-2019-10744", juice, "non_compliant", false],
    [openHigh, "repository registry.example.com/team-a/alpine", alpine, "compliant", true],
  ]);
  expect(rows[1]).toMatchObject({ title: "lodash everywhere", severity: "CRITICAL", status: "open", repository: "docker.io/bkimminich/juice-shop" });
  expect(Number(rows[1].critical_count)).toBeGreaterThan(0);
});

test("when an analyst asks for open incidents with the running workloads they concern, then each running container comes once per incident with its verdict now and every way it is concerned", async () => {
  const workload = await open({ title: "shop workload", severity: "MEDIUM", links: [{ workload: { cluster: "prod", namespace: "shop", kind: "Deployment", name: "juice" } }, { image_digest: juice }] });
  const q = namedQuery("open incidents with the running workloads they concern and those workloads' current verdicts");
  const { rows } = await analyst.pool.query(q.sql, q.params);
  expect(rows.map((r) => [Number(r.incident), r.via, `${r.cluster}/${r.namespace}/${r.kind}/${r.name}/${r.container}`, r.verdict, r.is_compliant])).toEqual([
    [openCritical, "vulnerability CVE-2019-10744", "prod/shop/Deployment/juice/app", "non_compliant", false],
    [openHigh, "repository registry.example.com/team-a/alpine", "prod/base/Deployment/base/alpine", "compliant", true],
    [workload, "image, workload", "prod/shop/Deployment/juice/app", "non_compliant", false],
  ]);
  // The resolved incident c1 linked juice-shop too: it is not listed.
});

test("when an analyst asks for the mean time to resolve by severity, then it is the mean of resolved_at - opened_at, with the open ones counted", async () => {
  const q = namedQuery("mean time to resolve by severity");
  const { rows } = await analyst.pool.query(q.sql, q.params);
  expect(rows.map((r) => ({ severity: r.severity, resolved: Number(r.resolved), mean: Number(r.mean_hours), longest: Number(r.longest_hours), open: Number(r.still_open) }))).toEqual([
    { severity: "CRITICAL", resolved: 2, mean: 3, longest: 4, open: 1 },
    { severity: "HIGH", resolved: 1, mean: 4.5, longest: 4.5, open: 1 },
  ]);
  expect(rows[0].mean_time_to_resolve).toMatchObject({ hours: 3 });
});

test("when an incident is reopened, then it leaves the resolved statistics until it is resolved again", async () => {
  const id = await open({ title: "reopened", severity: "LOW" });
  await resolveAt(id, now + HOUR);
  await app.http.patch(`/v1/incidents/${id}`).set(bearer(app.adminToken)).send({ status: "open" }).expect(200);
  const q = namedQuery("mean time to resolve by severity");
  const { rows } = await analyst.pool.query(q.sql, q.params);
  expect(rows.map((r) => r.severity)).toEqual(["CRITICAL", "HIGH"]);
});
