/**
 * The dashboard's Running page (/ui/running) and the running counts on the overview, image and vulnerability pages,
 * read as a signed-in browser does, on data sent through the API (reports and inventory snapshots).
 */
import { readFixture } from "../support/fixtures";
import { aPod, deploymentPods, digestOf, podList } from "../support/pods";
import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession } from "./browser-session";

let app: TestApp;
let browser: BrowserSession;
const NON_COMPLIANT = digestOf("ui-running: fluentd");
const COMPLIANT = digestOf("ui-running: alpine");
const UNSCANNED = digestOf("ui-running: never scanned");
const HOSTILE_NAME = `<script>alert("pod")</script>`;
const HOSTILE_IMAGE = `registry.example.com/x"><img src=x onerror=alert(1)>:1`;
let cve: string;

const json = () => ({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" });
const inventory = (cluster: string, pods: unknown[]) => app.http.post("/v1/inventory").query({ cluster }).set(json()).send(podList(pods as Record<string, unknown>[])).expect(200);

beforeAll(async () => {
  app = await startTestApp();
  await app.http.post("/v1/reports").query({ digest: NON_COMPLIANT, image: "registry.example.com/team/fluentd:1.0" }).set(json()).send(readFixture("fluentd-gems.json.golden").toString()).expect(201);
  await app.http.post("/v1/reports").query({ digest: COMPLIANT, image: "docker.io/library/alpine:3.10" }).set(json()).send(readFixture("alpine-310.json.golden").toString()).expect(201);
  await inventory("prod", [
    ...deploymentPods({ name: "api", namespace: "shop", replicas: 2, hash: "5d4f8c7b9d", containers: [{ name: "api", image: "registry.example.com/team/fluentd:1.0", digest: NON_COMPLIANT }] }),
    ...deploymentPods({ name: "web", namespace: "web", replicas: 1, hash: "7c9b5d4f8d", containers: [{ name: "web", image: "alpine:3.10", digest: COMPLIANT }] }),
    aPod({ name: "legacy-exporter", namespace: "monitoring", containers: [{ name: "exporter", image: "quay.io/prometheus/node-exporter:v1.8.2", digest: UNSCANNED }] }),
    aPod({ name: HOSTILE_NAME, namespace: "web", containers: [{ name: `<b>c</b>`, image: HOSTILE_IMAGE, digest: NON_COMPLIANT }] }),
  ]);
  await inventory("dev", [aPod({ name: "tool", namespace: "default", containers: [{ name: "t", image: "alpine:3.10", digest: COMPLIANT }] })]);
  const { rows } = await app.database.db.pool.query<{ vulnerability_id: string }>(
    `SELECT f.vulnerability_id FROM findings f JOIN image_scans s ON s.latest_report_id = f.report_id WHERE s.image_digest = $1 AND f.severity = 'CRITICAL' LIMIT 1`,
    [NON_COMPLIANT],
  );
  cve = rows[0]!.vulnerability_id;
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app?.close());

async function page(path: string, status = 200): Promise<string> {
  const res = await browser.get(path);
  expect(res.status).toBe(status);
  return res.text;
}

/** The rows of the page's `<table class="table {cls}">`. */
function rows(text: string, cls: string): string[] {
  const table = new RegExp(`<table class="table ${cls}">([\\s\\S]*?)</table>`).exec(text)?.[1] ?? "";
  return (/<tbody>([\s\S]*)<\/tbody>/.exec(table)?.[1] ?? "").split("<tr").slice(1);
}
const sectionOrder = (text: string, ids: string[]) => ids.map((id) => text.indexOf(`id="${id}"`));

test("when the Running page is opened, then open violations come first, never-scanned images are called out, and every namespace is listed, violations first", async () => {
  const text = await page("/ui/running");
  expect(text).toContain(`href="/ui/running" aria-current="page">Running</a>`);
  const order = sectionOrder(text, ["violations-h", "unscanned-h", "namespaces-h", "containers-h"]);
  expect(order.every((i) => i > 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);

  const violations = rows(text, "violations-table");
  expect(violations).toHaveLength(3); // api (fluentd), the hostile Pod (fluentd), the never-scanned exporter
  expect(violations.join("")).toContain("Deployment/api");
  expect(violations.join("")).toContain("Pod/legacy-exporter");

  const unscanned = rows(text, "unscanned-table");
  expect(unscanned).toHaveLength(1);
  expect(unscanned[0]).toContain("Pod/legacy-exporter");
  expect(unscanned[0]).toContain("quay.io/prometheus/node-exporter:v1.8.2");
  expect(text).toContain("bypassed admission control, or started before it was in place");

  const namespaces = rows(text, "namespaces-table").map((r) => /<th scope="row"><a [^>]*>([^<]*)<\/a>/.exec(r)?.[1]);
  // web and shop have one violation each, monitoring one (never scanned); dev/default none: last.
  expect(namespaces).toHaveLength(4);
  expect(namespaces[3]).toBe("default");
  expect(rows(text, "running-table")).toHaveLength(5);
});

test("when filtered by cluster and namespace, then only that scope is shown; an invalid cluster name is a 400 page", async () => {
  const dev = await page("/ui/running?cluster=dev");
  expect(rows(dev, "violations-table")).toHaveLength(0);
  expect(dev).toContain("No open violations");
  expect(rows(dev, "running-table")).toHaveLength(1);
  const shop = await page("/ui/running?cluster=prod&namespace=shop");
  expect(rows(shop, "running-table").map((r) => /Deployment\/\w+/.exec(r)?.[0])).toEqual(["Deployment/api"]);
  expect(rows(shop, "violations-table")).toHaveLength(1);
  await page("/ui/running?cluster=Not%20A%20Cluster", 400);
});

test("when workload names and images carry markup, then the Running, image and vulnerability pages show it as text", async () => {
  for (const path of ["/ui/running", `/ui/images/${NON_COMPLIANT}`, `/ui/vulnerabilities/${cve}`]) {
    const text = await page(path);
    expect(text).not.toMatch(/<script|<img|<b>c<\/b>/i);
    expect(text).toContain("Pod/&lt;script&gt;alert(&quot;pod&quot;)&lt;/script&gt;");
    expect(text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(text).toContain("&lt;b&gt;c&lt;/b&gt;");
  }
});

test("when the overview, an image and a vulnerability are opened, then they show how much of it runs now", async () => {
  const overview = await page("/ui/");
  expect(/class="running-containers">(\d+)</.exec(overview)?.[1]).toBe("5");
  expect(/class="running-violations">(\d+)</.exec(overview)?.[1]).toBe("3");
  expect(/class="running-unscanned">(\d+)</.exec(overview)?.[1]).toBe("1");
  expect(overview).toContain('href="/ui/running"');

  const image = await page(`/ui/images/${NON_COMPLIANT}`);
  expect(/id="running-h">Running now <span class="count">(\d+)</.exec(image)?.[1]).toBe("2");
  expect(rows(image, "running-now-table").join("")).toContain("Deployment/api");

  const compliant = await page(`/ui/images/${COMPLIANT}`);
  expect(/id="running-h">Running now <span class="count">(\d+)</.exec(compliant)?.[1]).toBe("2"); // prod web, dev tool

  const vulnerability = await page(`/ui/vulnerabilities/${cve}`);
  expect(/id="running-h">Running now <span class="count">(\d+)</.exec(vulnerability)?.[1]).toBe("2");
});

test("when a read-only person opens the Running page, then it shows with no buttons that change anything", async () => {
  const reader = new BrowserSession(app.service.url);
  await reader.signIn(await app.token("compliance:read"));
  const res = await reader.get("/ui/running");
  expect(res.status).toBe(200);
  const main = /<main[\s\S]*<\/main>/.exec(res.text)![0];
  expect(main).not.toMatch(/<form[^>]*method="post"/i);
});
