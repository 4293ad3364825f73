/**
 * GET /v1/workloads and GET /v1/violations: what runs where and which runtime violations are open or resolved,
 * through the real service on real PostgreSQL (reports uploaded, snapshots posted, as clients do).
 */
import { readFixture } from "../support/fixtures";
import { aPod, deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";

let app: TestApp;
let reader: string;
let writer: string;
const NON_COMPLIANT = digestOf("workloads: fluentd (1 CRITICAL)");
const COMPLIANT = digestOf("workloads: alpine 3.10 (4 MEDIUM)");
const UNSCANNED = digestOf("workloads: never scanned");

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  app = await startTestApp();
  reader = await app.token("compliance:read");
  writer = await app.token("inventory:write");
  const json = { ...auth(app.adminToken), "Content-Type": "application/json" };
  await app.http.post("/v1/reports").query({ digest: NON_COMPLIANT, image: "registry.example.com/team/fluentd:1.0" }).set(json).send(readFixture("fluentd-gems.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").query({ digest: COMPLIANT, image: "docker.io/library/alpine:3.10" }).set(json).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  const prod = [
    ...deploymentPods({ name: "api", namespace: "shop", replicas: 2, hash: "5d4f8c7b9d", containers: [{ name: "api", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] }),
    ...deploymentPods({ name: "web", namespace: "shop", replicas: 1, hash: "7c9b5d4f8d", containers: [{ name: "web", image: "alpine:3.10", digest: COMPLIANT }] }),
    aPod({ name: "exporter", namespace: "monitoring", containers: [{ name: "exporter", image: "quay.io/prometheus/node-exporter:v1.8.2", digest: UNSCANNED }] }),
    aPod({ name: "pending-0", namespace: "shop", unscheduled: true, containers: [{ name: "app", image: "ghcr.io/acme/app:2.1" }] }),
  ];
  await app.http.post("/v1/inventory").query({ cluster: "prod" }).set({ ...auth(writer), "Content-Type": "application/json" }).send(podList(prod)).expect(200);
  const staging = deploymentPods({ name: "api", namespace: "shop", replicas: 1, hash: "5d4f8c7b9d", containers: [{ name: "api", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] });
  await app.http.post("/v1/inventory").query({ cluster: "staging" }).set({ ...auth(writer), "Content-Type": "application/json" }).send(podList(staging)).expect(200);
  // staging's api goes away: its violation resolves (container_gone).
  await app.http.post("/v1/inventory").query({ cluster: "staging" }).set({ ...auth(writer), "Content-Type": "application/json" }).send(podList([])).expect(200);
});
afterAll(async () => app?.close());

const workloads = (query: Record<string, string | number> = {}, token = reader) => app.http.get("/v1/workloads").query(query).set(auth(token));
const violations = (query: Record<string, string | number> = {}, token = reader) => app.http.get("/v1/violations").query(query).set(auth(token));
const keyOf = (w: any) => `${w.cluster} ${w.namespace} ${w.kind}/${w.name} ${w.container}`;

describe("GET /v1/workloads", () => {
  test("when listed, then every running container comes with exactly the documented fields, in cluster/namespace/kind/name/container order", async () => {
    const res = await workloads().expect(200);
    expect(res.body.items.map(keyOf)).toEqual([
      "prod monitoring Pod/exporter exporter",
      "prod shop Deployment/api api",
      "prod shop Deployment/web web",
      "prod shop Pod/pending-0 app",
    ]);
    expect(res.body.next_cursor).toBeNull();
    const api = res.body.items[1];
    expect(Object.keys(api).sort()).toEqual(
      ["cluster", "namespace", "kind", "name", "container", "image_ref", "image_digest", "status", "is_compliant", "reasons", "first_seen_at", "last_seen_at"].sort(),
    );
    expect(api).toMatchObject({
      image_ref: "registry.example.com/team/fluentd:1.0",
      image_digest: NON_COMPLIANT,
      status: "non_compliant",
      is_compliant: false,
    });
    expect(api.reasons.length).toBeGreaterThan(0);
    expect(Date.parse(api.first_seen_at)).not.toBeNaN();
    expect(res.body.items[0]).toMatchObject({ image_digest: UNSCANNED, status: "not_scanned", is_compliant: false });
    expect(res.body.items[3]).toMatchObject({ image_digest: null, status: "unresolved", is_compliant: null, reasons: [] });
  });

  test("when filtered by cluster, namespace, status, repository or vulnerability, then only matching containers come", async () => {
    expect((await workloads({ cluster: "staging" }).expect(200)).body.items).toEqual([]);
    expect((await workloads({ namespace: "monitoring" }).expect(200)).body.items.map(keyOf)).toEqual(["prod monitoring Pod/exporter exporter"]);
    expect((await workloads({ status: "compliant" }).expect(200)).body.items.map(keyOf)).toEqual(["prod shop Deployment/web web"]);
    expect((await workloads({ status: "unresolved" }).expect(200)).body.items.map(keyOf)).toEqual(["prod shop Pod/pending-0 app"]);
    expect((await workloads({ status: "not_scanned" }).expect(200)).body.items.map(keyOf)).toEqual(["prod monitoring Pod/exporter exporter"]);
    expect((await workloads({ repository: "docker.io/library/alpine" }).expect(200)).body.items.map(keyOf)).toEqual(["prod shop Deployment/web web"]);
    const critical = await app.database.db.pool.query<{ vulnerability_id: string }>(
      `SELECT f.vulnerability_id FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id
       WHERE s.image_digest = $1 AND f.severity = 'CRITICAL' LIMIT 1`,
      [NON_COMPLIANT],
    );
    const cve = critical.rows[0]!.vulnerability_id;
    expect((await workloads({ vulnerability_id: cve }).expect(200)).body.items.map(keyOf)).toEqual(["prod shop Deployment/api api"]);
    expect((await workloads({ vulnerability_id: "CVE-1999-0001" }).expect(200)).body.items).toEqual([]);
  });

  test("when a filter value is unknown or malformed, then 422 names the parameter and nothing is listed", async () => {
    for (const [query, path] of [
      [{ status: "broken" }, "query.status"],
      [{ cluster: "Not A Cluster" }, "query.cluster"],
      [{ namespace: "UPPER" }, "query.namespace"],
      [{ vulnerability_id: "x y" }, "query.vulnerability_id"],
      [{ limit: 0 }, "query.limit"],
      [{ colour: "red" }, "query"],
    ] as const) {
      const res = await workloads(query as Record<string, string | number>).expect(422);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  test("when the cursor was not made by the API, then 400 invalid_cursor", async () => {
    for (const cursor of ["nonsense", Buffer.from("[1,2]").toString("base64url"), Buffer.from(JSON.stringify(["a", "b", "c", "d", "e", "-1"])).toString("base64url")]) {
      const res = await workloads({ cursor }).expect(400);
      expect(res.body.code).toBe("invalid_cursor");
    }
  });

  test("when the token lacks compliance:read, then 403; without a token, 401", async () => {
    await workloads({}, writer).expect(403);
    await app.http.get("/v1/workloads").expect(401);
  });
});

describe("GET /v1/violations", () => {
  test("when listed with state=open (the default), then the open violations come newest first with their cause and status at opening", async () => {
    const res = await violations().expect(200);
    // Both opened with the same snapshot: newest first means by ID, descending.
    const ids = res.body.items.map((v: any) => BigInt(v.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? 1 : -1)));
    expect(res.body.items.map((v: any) => `${v.cluster} ${v.kind}/${v.name}`).sort()).toEqual(["prod Deployment/api", "prod Pod/exporter"]);
    const api = res.body.items.find((v: any) => v.name === "api");
    const exporter = res.body.items.find((v: any) => v.name === "exporter");
    expect(api).toMatchObject({
      state: "open",
      cluster: "prod",
      namespace: "shop",
      container: "api",
      image_digest: NON_COMPLIANT,
      image_ref: "registry.example.com/team/fluentd:1.0",
      status: "non_compliant",
      opened_cause: "inventory",
      resolved_at: null,
      resolution: null,
    });
    expect(exporter).toMatchObject({ status: "not_scanned" });
    expect((await violations({ state: "open" }).expect(200)).body.items).toHaveLength(2);
  });

  test("when listed with state=resolved, then ended violations come with how they ended; cluster and namespace filter", async () => {
    const res = await violations({ state: "resolved" }).expect(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ state: "resolved", cluster: "staging", name: "api", resolution: "container_gone", resolved_cause: "inventory" });
    expect(Date.parse(res.body.items[0].resolved_at)).not.toBeNaN();
    expect((await violations({ cluster: "staging" }).expect(200)).body.items).toEqual([]);
    expect((await violations({ cluster: "prod", namespace: "monitoring" }).expect(200)).body.items.map((v: any) => v.name)).toEqual(["exporter"]);
  });

  test("when state or another filter is unknown, then 422 with the parameter's path", async () => {
    for (const [query, path] of [
      [{ state: "closed" }, "query.state"],
      [{ cluster: "-bad-" }, "query.cluster"],
      [{ namespace: "a_b" }, "query.namespace"],
      [{ unknown: "1" }, "query"],
    ] as const) {
      const res = await violations(query as Record<string, string>).expect(422);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await violations({ cursor: "v:abc" }).expect(400)).body.code).toBe("invalid_cursor");
    await violations({}, writer).expect(403);
  });
});

describe("GET /v1/vulnerabilities/{id} running", () => {
  test("when a vulnerability's image runs, then `running` lists the containers running it now, and gone ones drop out", async () => {
    const { rows } = await app.database.db.pool.query<{ vulnerability_id: string }>(
      `SELECT f.vulnerability_id FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id
       WHERE s.image_digest = $1 AND f.severity = 'CRITICAL' LIMIT 1`,
      [NON_COMPLIANT],
    );
    const cve = rows[0]!.vulnerability_id;
    const res = await app.http.get(`/v1/vulnerabilities/${cve}`).set(auth(reader)).expect(200);
    expect(res.body.running_count).toBe(1);
    expect(res.body.running).toEqual([
      expect.objectContaining({ cluster: "prod", namespace: "shop", kind: "Deployment", name: "api", container: "api", image_digest: NON_COMPLIANT, status: "non_compliant" }),
    ]);
    // staging's api ran it and is gone: not listed. A compliant image's vulnerability lists only where that runs.
    const alpine = await app.database.db.pool.query<{ vulnerability_id: string }>(
      `SELECT f.vulnerability_id FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id WHERE s.image_digest = $1 LIMIT 1`,
      [COMPLIANT],
    );
    const other = await app.http.get(`/v1/vulnerabilities/${alpine.rows[0]!.vulnerability_id}`).set(auth(reader)).expect(200);
    expect(other.body.running.map(keyOf)).toEqual(["prod shop Deployment/web web"]);
  });

  test("when the image stops running in a cluster, then its containers there drop out of running and running_count", async () => {
    const cluster = "vuln-gone";
    const pods = deploymentPods({ name: "solo", namespace: "x", replicas: 1, hash: "5d4f8c7b9d", containers: [{ name: "c", image: "docker.io/library/alpine:3.10", digest: COMPLIANT }] });
    const send = (body: unknown) => app.http.post("/v1/inventory").query({ cluster }).set({ ...auth(writer), "Content-Type": "application/json" }).send(body as object).expect(200);
    const alpine = await app.database.db.pool.query<{ vulnerability_id: string }>(
      `SELECT f.vulnerability_id FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id WHERE s.image_digest = $1 LIMIT 1`,
      [COMPLIANT],
    );
    const url = `/v1/vulnerabilities/${alpine.rows[0]!.vulnerability_id}`;
    await send(podList(pods));
    expect((await app.http.get(url).set(auth(reader)).expect(200)).body.running.map(keyOf)).toContain("vuln-gone x Deployment/solo c");
    await send(podList([]));
    const after = (await app.http.get(url).set(auth(reader)).expect(200)).body;
    expect(after.running.map(keyOf)).not.toContain("vuln-gone x Deployment/solo c");
    expect(after.running_count).toBe(after.running.length);
  });
});
