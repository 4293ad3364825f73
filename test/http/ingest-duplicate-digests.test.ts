import { readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

const auth = () => ({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" });

describe("when the same bytes are uploaded again for another digest", () => {
  test("then the stored report is linked to the new digest and judged, nothing else is written, and a retry writes nothing", async () => {
    const body = JSON.stringify({ ...readFixtureJson("misconfigurations_and_secrets.json"), CreatedAt: "2025-05-05T00:00:00Z" });
    const [a, b] = [fakeDigest("dup-digest-a"), fakeDigest("dup-digest-b")];
    const first = await app.http.post(`/v1/reports?digest=${a}`).set(auth()).send(body);
    expect(first.status).toBe(201);
    expect((await app.http.get(`/v1/images/${b}/compliance`).set(auth())).body.status).toBe("not_scanned");
    await app.flushDecisions();
    const before = await app.database.rowCounts();

    const again = await app.http.post(`/v1/reports?digest=${a}&digest=${b}`).set(auth()).send(body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, report_id: first.body.report_id });
    const images = again.body.images as Array<{ image_digest: string; status: string; current_report_id: string }>;
    expect(images.map((i) => i.image_digest).sort()).toEqual([a, b].sort());
    const [imageA] = first.body.images as Array<{ status: string; is_compliant: boolean }>;
    expect(images.find((i) => i.image_digest === b)).toMatchObject({ status: imageA!.status, is_compliant: imageA!.is_compliant, current_report_id: first.body.report_id });
    expect((await app.http.get(`/v1/images/${b}/compliance`).set(auth())).body).toMatchObject({ status: imageA!.status });

    await app.flushDecisions();
    const after = await app.database.rowCounts();
    expect(after).toEqual({ ...before, scan_report_images: before.scan_report_images! + 1, image_scans: before.image_scans! + 1, admission_decisions: before.admission_decisions! + 1 }); // + the lookup of b

    const retry = await app.http.post(`/v1/reports?digest=${a}&digest=${b}`).set(auth()).send(body);
    expect(retry.status).toBe(200);
    await app.flushDecisions();
    const afterRetry = await app.database.rowCounts();
    expect(afterRetry).toEqual(after);
  });
});
