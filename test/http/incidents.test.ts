import fc from "fast-check";
import { IncidentService } from "../../src/incidents/incident-service";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { deploymentPods, podList } from "../support/pods";
import { ALPINE, bearer, JUICE_SHOP, uploadFixture } from "./policy-support";

let app: TestApp;
let writer: string;
let reader: string;
let alpine: string;
let juice: string;

beforeAll(async () => {
  app = await startTestApp();
  writer = await app.token("policy:write");
  reader = await app.token("compliance:read");
  alpine = await uploadFixture(app, ALPINE, { image: "registry.example.com/team-a/alpine:3.10" });
  juice = await uploadFixture(app, JUICE_SHOP);
});
afterAll(async () => app.close());

const open = (body: Record<string, unknown>, token = writer) => app.http.post("/v1/incidents").set(bearer(token)).send(body);
const get = (id: number, token = reader) => app.http.get(`/v1/incidents/${id}`).set(bearer(token));
const incidentRows = async () => (await app.database.rowCounts()) as Record<string, number>;

describe("when an incident is opened", () => {
  test("then it answers 201 with the incident, an 'opened' timeline entry by the token's name, and its links with current verdicts", async () => {
    const res = await open({
      title: "Juice Shop runs with CRITICAL vulnerabilities",
      severity: "CRITICAL",
      owner: "team-appsec",
      summary: "Found by the **nightly** scan.",
      links: [{ image_digest: juice }, { vulnerability_id: "cve-2019-10744" }, { repository: "registry.example.com/team-a/alpine" }, { image_digest: fakeDigest("never scanned") }],
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/incidents/${res.body.id}`);
    expect(res.body).toMatchObject({
      title: "Juice Shop runs with CRITICAL vulnerabilities",
      status: "open",
      severity: "CRITICAL",
      owner: "team-appsec",
      summary: "Found by the **nightly** scan.",
      root_cause: null,
      resolved_at: null,
      created_by: "test-policy:write",
    });
    expect(res.body.timeline.map((e: any) => [e.kind, e.author])).toEqual([
      ["opened", "test-policy:write"],
      ["link_added", "test-policy:write"],
      ["link_added", "test-policy:write"],
      ["link_added", "test-policy:write"],
      ["link_added", "test-policy:write"],
    ]);
    const links = res.body.links as any[];
    expect(links.find((l) => l.image_digest === juice).current).toMatchObject({ known: true, status: "non_compliant", is_compliant: false });
    // The ID is stored as Trivy spells it; juice-shop's current report has it, and the image is blocked.
    const vuln = links.find((l) => l.type === "vulnerability");
    expect(vuln.vulnerability_id).toBe("CVE-2019-10744");
    expect(vuln.current).toMatchObject({ known: true, images: 1, non_compliant_images: 1, severity: "CRITICAL" });
    expect(links.find((l) => l.type === "repository").current).toMatchObject({ known: true, images: 1, non_compliant_images: 0 });
    expect(links.find((l) => l.image_digest === fakeDigest("never scanned")).current).toMatchObject({ known: false, status: "not_scanned" });
  });

  test("then a reader sees it; a read-only token cannot open, change, note or link (403) and nothing is written", async () => {
    const created = await open({ title: "read-only check", severity: "LOW" });
    expect((await get(created.body.id)).status).toBe(200);
    const before = await incidentRows();
    expect((await open({ title: "x", severity: "LOW" }, reader)).status).toBe(403);
    expect((await app.http.patch(`/v1/incidents/${created.body.id}`).set(bearer(reader)).send({ status: "resolved" })).status).toBe(403);
    expect((await app.http.post(`/v1/incidents/${created.body.id}/notes`).set(bearer(reader)).send({ body: "x" })).status).toBe(403);
    expect((await app.http.post(`/v1/incidents/${created.body.id}/links`).set(bearer(reader)).send({ image_digest: alpine })).status).toBe(403);
    expect(await incidentRows()).toEqual(before);
  });

  test.each<[string, Record<string, unknown>]>([
    ["body.title", { severity: "HIGH" }],
    ["body.title", { title: "  ", severity: "HIGH" }],
    ["body.severity", { title: "t", severity: "SEVERE" }],
    ["body.status", { title: "t", severity: "HIGH", status: "closed" }],
    ["body", { title: "t", severity: "HIGH", colour: "red" }],
    ["body.links.0.image_digest", { title: "t", severity: "HIGH", links: [{ image_digest: "sha256:abc" }] }],
    ["body.links.0", { title: "t", severity: "HIGH", links: [{ image_digest: fakeDigest(1), repository: "nginx" }] }],
    ["body.links.0", { title: "t", severity: "HIGH", links: [{}] }],
    ["body.links.0.repository", { title: "t", severity: "HIGH", links: [{ repository: "nginx:1.27" }] }],
    ["body.links.0.exception_id", { title: "t", severity: "HIGH", links: [{ exception_id: "00000000-0000-4000-8000-000000000000" }] }],
    ["body.links.0.violation_id", { title: "t", severity: "HIGH", links: [{ violation_id: 7 }] }],
    ["body.summary", { title: "t", severity: "HIGH", summary: "x".repeat(65_537) }],
  ])("then a bad body naming %s (case %#) is a 422, and nothing is written", async (path, body) => {
    const before = await incidentRows();
    const res = await open(body as Record<string, unknown>);
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    expect(await incidentRows()).toEqual(before);
  });

  test("then a body that is not JSON is a 400 and one larger than the limit a 413", async () => {
    const res = await app.http.post("/v1/incidents").set({ ...bearer(writer), "Content-Type": "application/json" }).send("{title:");
    expect(res.status).toBe(400);
    const big = await app.http.post("/v1/incidents").set({ ...bearer(writer), "Content-Type": "application/json" }).send(JSON.stringify({ title: "t", severity: "LOW", summary: "x".repeat(400_000) }));
    expect(big.status).toBe(413);
  });
});

describe("when an incident is changed", () => {
  test("then each changed field is one timeline entry with old and new value, resolved sets resolved_at and reopening clears it", async () => {
    const { body: created } = await open({ title: "alpine MEDIUMs", severity: "MEDIUM" });
    const other = await app.token("policy:write");
    const res = await app.http
      .patch(`/v1/incidents/${created.id}`)
      .set(bearer(other))
      .send({ status: "investigating", owner: "alice", severity: "MEDIUM", root_cause: "Base image **not rebuilt** since 2019." });
    expect(res.status).toBe(200);
    // severity was already MEDIUM: not a change.
    expect(res.body.changes).toEqual([
      { field: "status", from: "open", to: "investigating" },
      { field: "owner", from: null, to: "alice" },
      { field: "root_cause", from: null, to: "Base image **not rebuilt** since 2019." },
    ]);
    const changes = res.body.timeline.filter((e: any) => e.kind === "change");
    expect(changes.map((e: any) => [e.field, e.from, e.to, e.author])).toEqual([
      ["status", "open", "investigating", "test-policy:write"],
      ["owner", null, "alice", "test-policy:write"],
      ["root_cause", null, "Base image **not rebuilt** since 2019.", "test-policy:write"],
    ]);
    expect(changes[0].body).toBe("changed status from “open” to “investigating”");

    const resolved = await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({ status: "resolved" });
    expect(resolved.body.resolved_at).not.toBeNull();
    const again = await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({ status: "resolved", owner: "alice" });
    expect(again.body.changes).toEqual([]);
    expect(again.body.resolved_at).toBe(resolved.body.resolved_at);
    expect(again.body.timeline).toHaveLength(resolved.body.timeline.length);
    const reopened = await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({ status: "open", owner: null });
    expect(reopened.body).toMatchObject({ status: "open", resolved_at: null, owner: null });
    expect(reopened.body.changes).toEqual([
      { field: "status", from: "resolved", to: "open" },
      { field: "owner", from: "alice", to: null },
    ]);
  });

  test("then a patch with no field, an unknown field or an unknown incident is refused and nothing is written", async () => {
    const { body: created } = await open({ title: "patch refusals", severity: "LOW" });
    const before = await incidentRows();
    expect((await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({})).status).toBe(422);
    expect((await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({ opened_at: "2020-01-01T00:00:00Z" })).status).toBe(422);
    expect((await app.http.patch(`/v1/incidents/${created.id}`).set(bearer(writer)).send({ status: "done" })).status).toBe(422);
    const missing = await app.http.patch("/v1/incidents/999999").set(bearer(writer)).send({ status: "resolved" });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("incident_not_found");
    expect((await get(0)).status).toBe(400);
    expect((await app.http.get("/v1/incidents/abc").set(bearer(reader))).status).toBe(400);
    expect(await incidentRows()).toEqual(before);
  });

  test("then a note is added to the timeline with its author; an empty one is a 422", async () => {
    const { body: created } = await open({ title: "notes", severity: "HIGH" });
    const res = await app.http.post(`/v1/incidents/${created.id}/notes`).set(bearer(writer)).send({ body: "Rolled back to `v1.2.3`.\n\n- step one" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: "note", author: "test-policy:write", body: "Rolled back to `v1.2.3`.\n\n- step one" });
    expect((await get(created.id)).body.timeline.at(-1)).toEqual(res.body);
    const before = await incidentRows();
    expect((await app.http.post(`/v1/incidents/${created.id}/notes`).set(bearer(writer)).send({ body: " \n " })).status).toBe(422);
    expect((await app.http.post(`/v1/incidents/${created.id}/notes`).set(bearer(writer)).send({ text: "x" })).status).toBe(422);
    expect((await app.http.post("/v1/incidents/999999/notes").set(bearer(writer)).send({ body: "x" })).status).toBe(404);
    expect(await incidentRows()).toEqual(before);
  });

  test("then the timeline cannot be edited or deleted, not even in SQL", async () => {
    const { body: created } = await open({ title: "append only", severity: "LOW" });
    const pool = app.database.db.pool;
    await expect(pool.query("UPDATE incident_notes SET body = 'rewritten' WHERE incident_id = $1", [created.id])).rejects.toThrow(/never edited or deleted/);
    await expect(pool.query("DELETE FROM incident_notes WHERE incident_id = $1", [created.id])).rejects.toThrow(/never edited or deleted/);
    expect((await get(created.id)).body.timeline).toEqual(created.timeline);
  });
});

describe("when items are linked and unlinked", () => {
  test("then a link is added once (201, then 200 with created false), removed by target or by link_id, each change in the timeline", async () => {
    const { body: created } = await open({ title: "links", severity: "HIGH" });
    const exception = await app.http
      .post("/v1/exceptions")
      .set(bearer(writer))
      .send({ vulnerability_id: "CVE-2019-10744", image_digest: juice, reason: "lodash not reachable" });
    expect(exception.status).toBe(201);
    const links = `/v1/incidents/${created.id}/links`;
    const first = await app.http.post(links).set(bearer(writer)).send({ exception_id: exception.body.id });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: true, link: { type: "exception", exception_id: exception.body.id, created_by: "test-policy:write" } });
    const again = await app.http.post(links).set(bearer(writer)).send({ exception_id: exception.body.id.toUpperCase() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, link: { id: first.body.link.id } });
    const workload = await app.http.post(links).set(bearer(writer)).send({ workload: { cluster: "prod", namespace: "shop", kind: "Deployment", name: "juice" } });
    expect(workload.status).toBe(201);

    const detail = (await get(created.id)).body;
    expect(detail.links.find((l: any) => l.type === "exception").current).toMatchObject({ known: true, status: "active", scope: juice });
    expect(detail.links.find((l: any) => l.type === "workload").workload).toEqual({ cluster: "prod", namespace: "shop", kind: "Deployment", name: "juice" });

    const byTarget = await app.http.delete(links).set(bearer(writer)).send({ workload: { cluster: "prod", namespace: "shop", kind: "Deployment", name: "juice" } });
    expect(byTarget.status).toBe(200);
    const byId = await app.http.delete(links).set(bearer(writer)).send({ link_id: first.body.link.id });
    expect(byId.status).toBe(200);
    expect(byId.body.link.exception_id).toBe(exception.body.id);
    const after = (await get(created.id)).body;
    expect(after.links).toEqual([]);
    expect(after.timeline.map((e: any) => e.body)).toEqual([
      "opened the incident (HIGH, open)",
      `linked exception ${exception.body.id}`,
      "linked workload prod/shop/Deployment/juice",
      "unlinked workload prod/shop/Deployment/juice",
      `unlinked exception ${exception.body.id}`,
    ]);
  });

  test("then removing a link that is not there is a 404, and a bad or missing body a 4xx; nothing is written", async () => {
    const { body: created } = await open({ title: "unlink refusals", severity: "LOW", links: [{ image_digest: alpine }] });
    const links = `/v1/incidents/${created.id}/links`;
    const before = await incidentRows();
    const missing = await app.http.delete(links).set(bearer(writer)).send({ image_digest: juice });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("incident_link_not_found");
    expect((await app.http.delete(links).set(bearer(writer))).status).toBe(400);
    expect((await app.http.delete(links).set(bearer(writer)).send({ link_id: "x" })).status).toBe(422);
    expect((await app.http.post(links).set(bearer(writer)).send({ image_digest: alpine, vulnerability_id: "CVE-2019-1549" })).status).toBe(422);
    expect((await app.http.post(links).set(bearer(writer)).send({ workload: { cluster: "prod", namespace: "shop" } })).status).toBe(422);
    expect(await incidentRows()).toEqual(before);
  });
});

describe("when the linked items run in a cluster", () => {
  const inventory = (pods: unknown[]) =>
    app.http.post("/v1/inventory").query({ cluster: "prod", namespace: "shop" }).set(bearer(app.adminToken)).send(podList(pods as Array<Record<string, unknown>>) as object).expect(200);

  test("then each link says what runs now, a runtime violation can be linked, and when the workload is gone the incident shows it no longer runs", async () => {
    await inventory(deploymentPods({ name: "juice", namespace: "shop", replicas: 2, containers: [{ name: "app", image: "docker.io/bkimminich/juice-shop:v10.2.0", digest: juice }] }));
    const { rows } = await app.database.db.pool.query("SELECT id::text AS id FROM runtime_violations WHERE image_digest = $1 AND resolved_at IS NULL", [juice]);
    expect(rows).toHaveLength(1);
    const violation = rows[0].id as string;
    const { body: created } = await open({
      title: "juice-shop runs in prod",
      severity: "CRITICAL",
      links: [
        { image_digest: juice },
        { vulnerability_id: "CVE-2019-10744" },
        { repository: "docker.io/bkimminich/juice-shop" },
        { workload: { cluster: "prod", namespace: "shop", kind: "Deployment", name: "juice" } },
        { violation_id: Number(violation) },
      ],
    });
    const current = (type: string, detail = created) => detail.links.find((l: any) => l.type === type).current;
    expect(current("image")).toMatchObject({ status: "non_compliant", running: 1, running_non_compliant: 1 });
    expect(current("vulnerability")).toMatchObject({ running: 1, running_non_compliant: 1 });
    expect(current("repository")).toMatchObject({ running: 1, running_non_compliant: 1 });
    expect(current("workload")).toMatchObject({ known: true, status: "running", is_compliant: false, statuses: ["non_compliant"], running: 1 });
    expect(current("violation")).toMatchObject({ known: true, status: "open", image_status: "non_compliant", image_digest: juice, workload: "prod/shop/Deployment/juice/app", still_running: true, resolved_at: null });

    await inventory([]);
    const after = (await get(created.id)).body;
    expect(current("image", after)).toMatchObject({ status: "non_compliant", running: 0 });
    expect(current("workload", after)).toMatchObject({ known: false, status: "not_running", running: 0 });
    expect(current("violation", after)).toMatchObject({ status: "resolved", resolution: "container_gone", still_running: false });
    expect(current("violation", after).resolved_at).not.toBeNull();
  });

  test("then linking a runtime violation that does not exist is a 422 and writes nothing", async () => {
    const { body: created } = await open({ title: "violation refusal", severity: "LOW" });
    const before = await incidentRows();
    const res = await app.http.post(`/v1/incidents/${created.id}/links`).set(bearer(writer)).send({ violation_id: "999999" });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: "body.violation_id", message: "no such runtime violation" }]);
    expect(await incidentRows()).toEqual(before);
  });
});

describe("when incidents are listed", () => {
  test("then filters by status and severity apply, newest first", async () => {
    const a = (await open({ title: "list A", severity: "CRITICAL", status: "investigating" })).body.id;
    const b = (await open({ title: "list B", severity: "LOW", status: "investigating" })).body.id;
    const res = await app.http.get("/v1/incidents?status=investigating&severity=CRITICAL&severity=LOW&limit=500").set(bearer(reader));
    expect(res.status).toBe(200);
    const ids = res.body.items.map((i: any) => i.id);
    expect(ids.indexOf(b)).toBeLessThan(ids.indexOf(a));
    expect(res.body.items.every((i: any) => i.status === "investigating" && ["CRITICAL", "LOW"].includes(i.severity))).toBe(true);
    expect((await app.http.get("/v1/incidents?status=closed").set(bearer(reader))).status).toBe(422);
    expect((await app.http.get("/v1/incidents?cursor=abc").set(bearer(reader))).status).toBe(400);
  });
});

describe("when incidents are paged (property)", () => {
  test("then for any number of incidents, any filter and any page size, every matching incident comes exactly once, newest first", async () => {
    // A database of its own: the property empties the incident tables between runs.
    const own = await startTestApp();
    const incidents = new IncidentService(own.service.deps.pool, () => new Date());
    const STATUSES = ["open", "investigating", "mitigated", "resolved"] as const;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom(...STATUSES), { maxLength: 24 }),
          fc.integer({ min: 1, max: 9 }),
          fc.subarray([...STATUSES]),
          async (statuses, pageSize, filter) => {
            await own.database.db.pool.query("TRUNCATE incident_links, incident_notes, incidents");
            const created: Array<{ id: number; status: (typeof STATUSES)[number] }> = [];
            for (const status of statuses) created.push({ id: (await incidents.open({ title: `p-${created.length}`, severity: "LOW", status }, "prop")).incident.id, status });
            const expected = created.filter((c) => filter.length === 0 || filter.includes(c.status)).map((c) => c.id).sort((x, y) => y - x);
            const seen: number[] = [];
            let cursor: string | null = null;
            for (let pages = 0; pages <= expected.length + 1; pages++) {
              const query = new URLSearchParams({ limit: String(pageSize) });
              for (const s of filter) query.append("status", s);
              if (cursor) query.set("cursor", cursor);
              const res = await own.http.get(`/v1/incidents?${query}`).set(bearer(own.adminToken));
              expect(res.status).toBe(200);
              expect(res.body.items.length).toBeLessThanOrEqual(pageSize);
              seen.push(...res.body.items.map((i: any) => i.id));
              cursor = res.body.next_cursor;
              if (cursor === null) break;
            }
            expect(cursor).toBeNull();
            expect(seen).toEqual(expected);
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await own.close();
    }
  });
});
