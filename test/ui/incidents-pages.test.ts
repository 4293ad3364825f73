/**
 * The dashboard's incident pages, used like a person would: sign in, open an incident from an image's page, note,
 * link, change it; a read-only token sees everything and no button that changes anything; forms without the CSRF
 * token change nothing.
 */
import { ALPINE, bearer, JUICE_SHOP, uploadFixture } from "../http/policy-support";
import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession, csrfOf } from "./browser-session";
import { deploymentPods, podList } from "../support/pods";

let app: TestApp;
let writer: BrowserSession;
let reader: BrowserSession;
let juice: string;
let alpine: string;

beforeAll(async () => {
  app = await startTestApp();
  juice = await uploadFixture(app, JUICE_SHOP);
  alpine = await uploadFixture(app, ALPINE, { image: "registry.example.com/team-a/alpine:3.10" });
  writer = new BrowserSession(app.service.url);
  await writer.signIn(await app.token("policy:write", "compliance:read"));
  reader = new BrowserSession(app.service.url);
  await reader.signIn(await app.token("compliance:read"));
});
afterAll(async () => app.close());

const incidentIdFrom = (location: string | null) => Number(/^\/ui\/incidents\/(\d+)/.exec(location ?? "")![1]);

describe("when a security engineer works an incident in the dashboard", () => {
  let id: number;

  test("then the image page offers to open one, the form comes prefilled with the image, and opening it lands on the incident", async () => {
    const image = await writer.get(`/ui/images/${juice}`);
    expect(image.status).toBe(200);
    expect(image.text).toContain("No incident is linked to this image.");
    expect(image.text).toContain(`href="/ui/incidents/new?image_digest=${encodeURIComponent(juice)}"`);
    const form = await writer.get(`/ui/incidents/new?image_digest=${encodeURIComponent(juice)}`);
    expect(form.text).toContain(`value="${juice}"`);
    const opened = await writer.post("/ui/incidents", {
      _csrf: csrfOf(form.text),
      title: "Juice Shop runs with CRITICALs",
      severity: "CRITICAL",
      owner: "appsec",
      summary: "Found by the **nightly** scan.",
      link_type: "image_digest",
      link_value: juice,
    });
    expect(opened.status).toBe(303);
    id = incidentIdFrom(opened.location);
    const page = await writer.get(`/ui/incidents/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Juice Shop runs with CRITICALs");
    expect(page.text).toContain("Found by the <strong>nightly</strong> scan.");
    // The linked image with its verdict now.
    expect(page.text).toMatch(/badge badge-non_compliant/);
    expect((await writer.get(`/ui/images/${juice}`)).text).toContain(`href="/ui/incidents/${id}"`);
  });

  test("then a hostile note is kept as written and shown as harmless text", async () => {
    const page = await writer.get(`/ui/incidents/${id}`);
    const hostile = `Blocked it. <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>`;
    const noted = await writer.post(`/ui/incidents/${id}/notes`, { _csrf: csrfOf(page.text), body: hostile });
    expect(noted.status).toBe(303);
    const after = await writer.get(`/ui/incidents/${id}`);
    expect(after.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(after.text).not.toMatch(/<script|<img|href="javascript/i);
    const api = await app.http.get(`/v1/incidents/${id}`).set(bearer(app.adminToken));
    expect(api.body.timeline.at(-1)).toMatchObject({ kind: "note", body: hostile, author: "test-policy:write+compliance:read" });
  });

  test("then a vulnerability and a workload are linked, the vulnerability page lists the incident, and unlinking is recorded", async () => {
    let page = await writer.get(`/ui/incidents/${id}`);
    expect((await writer.post(`/ui/incidents/${id}/links`, { _csrf: csrfOf(page.text), link_type: "vulnerability_id", link_value: "cve-2019-10744" })).status).toBe(303);
    page = await writer.get(`/ui/incidents/${id}`);
    expect((await writer.post(`/ui/incidents/${id}/links`, { _csrf: csrfOf(page.text), link_type: "workload", link_value: "prod/shop/Deployment/juice" })).status).toBe(303);
    const bad = await writer.post(`/ui/incidents/${id}/links`, { _csrf: csrfOf(page.text), link_type: "workload", link_value: "prod/juice" });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain("cluster/namespace/kind/name");
    expect((await writer.get("/ui/vulnerabilities/CVE-2019-10744")).text).toContain(`href="/ui/incidents/${id}"`);
    page = await writer.get(`/ui/incidents/${id}`);
    expect(page.text).toContain("prod/shop/Deployment/juice");
    const api = await app.http.get(`/v1/incidents/${id}`).set(bearer(app.adminToken));
    const workload = api.body.links.find((l: any) => l.type === "workload");
    expect((await writer.post(`/ui/incidents/${id}/links/${workload.id}/remove`, { _csrf: csrfOf(page.text) })).status).toBe(303);
    const timeline = (await app.http.get(`/v1/incidents/${id}`).set(bearer(app.adminToken))).body.timeline.map((e: any) => e.body);
    expect(timeline).toContain("linked vulnerability CVE-2019-10744");
    expect(timeline).toContain("unlinked workload prod/shop/Deployment/juice");
  });

  test("then saving the update form records only the fields that changed, and a blank title is refused on the form", async () => {
    const page = await writer.get(`/ui/incidents/${id}`);
    const fields = { _csrf: csrfOf(page.text), title: "Juice Shop runs with CRITICALs", status: "resolved", severity: "CRITICAL", owner: "appsec", summary: "Found by the **nightly** scan.", root_cause: "Old lodash.", remediation: "" };
    expect((await writer.post(`/ui/incidents/${id}`, fields)).status).toBe(303);
    const api = (await app.http.get(`/v1/incidents/${id}`).set(bearer(app.adminToken))).body;
    expect(api.timeline.filter((e: any) => e.kind === "change").map((e: any) => e.field)).toEqual(["status", "root_cause"]);
    expect(api.resolved_at).not.toBeNull();
    const refused = await writer.post(`/ui/incidents/${id}`, { ...fields, title: " " });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain("Please correct the form");
  });

  test("then the incident says where its image runs now, and that a linked workload no longer runs once it is gone", async () => {
    const inventory = (pods: unknown[]) => app.http.post("/v1/inventory").query({ cluster: "prod" }).set(bearer(app.adminToken)).send(podList(pods as Array<Record<string, unknown>>) as object).expect(200);
    await inventory(deploymentPods({ name: "juice", namespace: "shop", replicas: 1, containers: [{ name: "app", image: "docker.io/bkimminich/juice-shop:v10.2.0", digest: juice }] }));
    const page = await writer.get(`/ui/incidents/${id}`);
    expect(page.text).toContain("runs in 1 container now, <strong>1 not compliant</strong>");
    await writer.post(`/ui/incidents/${id}/links`, { _csrf: csrfOf(page.text), link_type: "workload", link_value: "prod/shop/Deployment/juice" });
    expect((await writer.get(`/ui/incidents/${id}`)).text).toMatch(/prod\/shop\/Deployment\/juice<\/code><\/td><td><span class="badge badge-non_compliant">/);
    await inventory([]);
    const after = await writer.get(`/ui/incidents/${id}`);
    expect(after.text).toContain("not running now");
    expect(after.text).toContain("not running anywhere now");
  });

  test("then the list filters by status tab and severity", async () => {
    const resolved = await writer.get("/ui/incidents?view=resolved&severity=CRITICAL");
    expect(resolved.text).toContain(`href="/ui/incidents/${id}"`);
    const active = await writer.get("/ui/incidents");
    expect(active.text).not.toContain(`href="/ui/incidents/${id}"`);
    const high = await writer.get("/ui/incidents?view=all&severity=HIGH");
    expect(high.text).not.toContain(`href="/ui/incidents/${id}"`);
  });
});

describe("when a read-only token signs in", () => {
  test("then it reads the list, an incident and the image page, and sees no form or button that changes anything", async () => {
    const res = await app.http.post("/v1/incidents").set(bearer(app.adminToken)).send({ title: "read-only view", severity: "LOW", links: [{ image_digest: alpine }] });
    for (const path of ["/ui/incidents", `/ui/incidents/${res.body.id}`, `/ui/images/${alpine}`]) {
      const page = await reader.get(path);
      expect(page.status).toBe(200);
      expect(page.text).not.toMatch(/<form method="post" action="\/ui\/incidents/);
      expect(page.text).not.toContain("Open an incident");
    }
    expect((await reader.get(`/ui/images/${alpine}`)).text).toContain(`href="/ui/incidents/${res.body.id}"`);
    const refused = await reader.post("/ui/incidents", { _csrf: csrfOf((await reader.get("/ui/incidents")).text), title: "x", severity: "LOW" });
    expect(refused.status).toBe(403);
    expect((await reader.get("/ui/incidents/new")).status).toBe(403);
  });
});

describe("when a form is posted without its CSRF token", () => {
  test("then it is refused (403) and nothing is written", async () => {
    const before = await app.database.rowCounts();
    expect((await writer.post("/ui/incidents", { title: "forged", severity: "LOW" })).status).toBe(403);
    expect((await writer.post("/ui/incidents/1/notes", { _csrf: "forged", body: "x" })).status).toBe(403);
    expect((await writer.post("/ui/incidents/1", { title: "forged", status: "open", severity: "LOW" })).status).toBe(403);
    expect((await writer.post("/ui/incidents/1/links", { link_type: "image_digest", link_value: alpine })).status).toBe(403);
    expect((await writer.post("/ui/incidents/1/links/1/remove", {})).status).toBe(403);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("then an unknown incident is a 404 page", async () => {
    expect((await writer.get("/ui/incidents/999999")).status).toBe(404);
    expect((await writer.get("/ui/incidents/abc")).status).toBe(404);
  });
});
