/**
 * A notification rule with open_incident opens an incident when a runtime violation with a CRITICAL opens: one per
 * vulnerability and cluster (later violations are linked to it), in the reconciling transaction; a resolved incident
 * frees the pair for the next one.
 */
import { aPod, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { createDestination, createRule, PRIVATE_OK, trivyReport, upload } from "./support";

let app: TestApp;
let ruleName: string;
const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

beforeAll(async () => {
  app = await startTestApp({ env: PRIVATE_OK });
  const d = await createDestination(app, { name: "sec-hook", type: "webhook", url: "http://127.0.0.1:9/hook" });
  const rule = await createRule(app, { name: "prod criticals", destination_id: d.id, events: ["runtime_violation.opened"], cluster: "prod", open_incident: true });
  expect(rule.open_incident).toBe(true);
  ruleName = rule.name;
  // A rule that only notifies opens nothing.
  await createRule(app, { name: "staging notices", destination_id: d.id, events: ["runtime_violation.opened"], cluster: "staging" });
});
afterAll(async () => app?.close());

const snapshot = (cluster: string, pods: Array<Record<string, unknown>>) => app.http.post("/v1/inventory").query({ cluster }).set(auth()).send(podList(pods));

async function incidents() {
  const res = await app.http.get("/v1/incidents").query({ limit: "100" }).set(auth());
  expect(res.status).toBe(200);
  return res.body.items as Array<{ id: number; title: string; status: string }>;
}
const detail = async (id: number) => (await app.http.get(`/v1/incidents/${id}`).set(auth())).body;

test("when violations with a CRITICAL open, then one incident per vulnerability and cluster, later violations linked to it, excepted and other clusters' ones left out", async () => {
  const pay = fakeDigest("auto-incident-pay");
  const web = fakeDigest("auto-incident-web");
  const vulns = [
    { id: "CVE-2026-1111", severity: "CRITICAL" },
    { id: "CVE-2026-2222", severity: "CRITICAL" },
    { id: "CVE-2026-3333", severity: "HIGH" },
  ];
  await upload(app, pay, trivyReport({ repository: "ghcr.io/acme/pay", vulnerabilities: vulns }), "ghcr.io/acme/pay");
  await upload(app, web, trivyReport({ repository: "ghcr.io/acme/web", vulnerabilities: [{ id: "CVE-2026-1111", severity: "CRITICAL" }] }), "ghcr.io/acme/web");
  const granted = await app.http.post("/v1/exceptions").set(auth()).send({ vulnerability_id: "CVE-2026-2222", reason: "not reachable" });
  expect(granted.status).toBe(201);

  const payPod = aPod({ name: "pay-7d9f8-abcde", namespace: "payments", owner: { kind: "ReplicaSet", name: "pay-7d9f8" }, containers: [{ name: "app", image: "ghcr.io/acme/pay:1.0", digest: pay }] });
  await snapshot("prod", [payPod]).expect(200);
  let list = await incidents();
  expect(list.map((i) => i.title)).toEqual(["CVE-2026-1111 running in cluster prod"]);
  const first = await detail(list[0]!.id);
  expect(first).toMatchObject({ severity: "CRITICAL", status: "open", created_by: `rule ${ruleName}` });
  expect(first.timeline[0]).toMatchObject({ kind: "opened", author: `rule ${ruleName}` });
  expect(first.links.map((l: any) => l.type).sort()).toEqual(["image", "violation", "vulnerability", "workload"]);
  expect(first.links.find((l: any) => l.type === "workload").workload).toEqual({ cluster: "prod", namespace: "payments", kind: "ReplicaSet", name: "pay-7d9f8" });

  // Another workload in the same cluster with the same CRITICAL: linked to the same incident, not a second one.
  const webPod = aPod({ name: "web-1", namespace: "shop", containers: [{ name: "web", image: "ghcr.io/acme/web:1.0", digest: web }] });
  await snapshot("prod", [payPod, webPod]).expect(200);
  // The staging rule does not open incidents.
  await snapshot("staging", [webPod]).expect(200);
  list = await incidents();
  expect(list).toHaveLength(1);
  const again = await detail(list[0]!.id);
  expect(again.links.filter((l: any) => l.type === "violation")).toHaveLength(2);
  expect(again.links.filter((l: any) => l.type === "workload").map((l: any) => l.workload.name).sort()).toEqual(["pay-7d9f8", "web-1"]);
  expect(again.timeline.filter((e: any) => e.kind === "link_added").every((e: any) => e.author === `rule ${ruleName}`)).toBe(true);
  const { rows } = await app.database.db.pool.query("SELECT auto_key FROM incidents");
  expect(rows).toEqual([{ auto_key: "runtime-critical:prod:CVE-2026-1111" }]);
});

test("when that incident is resolved, then the next violation with the vulnerability in the cluster opens a new one", async () => {
  const [open] = await incidents();
  const resolved = await app.http.patch(`/v1/incidents/${open!.id}`).set(auth()).send({ status: "resolved" });
  expect(resolved.status).toBe(200);
  const later = fakeDigest("auto-incident-later");
  await upload(app, later, trivyReport({ repository: "ghcr.io/acme/batch", vulnerabilities: [{ id: "CVE-2026-1111", severity: "CRITICAL" }] }), "ghcr.io/acme/batch");
  const pod = aPod({ name: "batch-1", namespace: "jobs", containers: [{ name: "batch", image: "ghcr.io/acme/batch:1.0", digest: later }] });
  await snapshot("prod", [pod]).expect(200);
  const list = await incidents();
  expect(list.filter((i) => i.title === "CVE-2026-1111 running in cluster prod").map((i) => i.status).sort()).toEqual(["open", "resolved"]);
});

test("when a rule asks to open incidents without subscribing to runtime_violation.opened, then 422 names open_incident", async () => {
  const d = await createDestination(app, { name: "other-hook", type: "webhook", url: "http://127.0.0.1:9/other" });
  const res = await app.http
    .post("/v1/notifications/rules")
    .set(auth())
    .send({ name: "wrong", destination_id: d.id, events: ["verdict.changed"], open_incident: true });
  expect(res.status).toBe(422);
  expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("body.open_incident");
});
