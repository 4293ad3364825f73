import { gzipSync } from "node:zlib";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { postBytes, startTestApp, type TestApp } from "../support/test-app";
import { countTrivyJson, fakeDigest, TRIVY_JSON_FIXTURES } from "../support/trivy-counts";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });

function upload(body: Buffer | string, query = "", headers: Record<string, string> = {}) {
  return app.http
    .post(`/v1/reports${query}`)
    .set({ ...auth(), "Content-Type": "application/json", ...headers })
    .send(Buffer.isBuffer(body) ? body.toString("utf8") : body);
}

describe("when each real Trivy JSON fixture is uploaded", () => {
  test.each(TRIVY_JSON_FIXTURES)("%s: 201 with the report's own counts and the default verdict", async (name) => {
    const raw = readFixtureJson(name);
    const hasRepoDigests = ((raw.Metadata?.RepoDigests as string[] | undefined) ?? []).some((d) => d !== "");
    const digest = fakeDigest(name);
    const res = await upload(readFixture(name), hasRepoDigests ? "" : `?digest=${digest}`);
    expect(res.status).toBe(201);
    const counts = countTrivyJson(raw);
    expect(res.body.summary).toEqual(counts);
    expect(res.body.format).toBe("trivy");
    expect(res.body.duplicate).toBe(false);
    const expectedCompliant = counts.critical === 0 && counts.secrets === 0;
    expect(res.body.images.length).toBeGreaterThan(0);
    for (const image of res.body.images) {
      expect(image.is_compliant).toBe(expectedCompliant);
      expect(image.status).toBe(expectedCompliant ? "compliant" : "non_compliant");
    }
    if (!hasRepoDigests) expect(res.body.images.map((i: { image_digest: string }) => i.image_digest)).toEqual([digest]);
  });

  test("juice-shop is keyed by the digest in its RepoDigests, with its repository and tag", async () => {
    const raw = readFixtureJson("juice-shop-v10.2.0.json");
    const digest = (raw.Metadata.RepoDigests[0] as string).split("@")[1];
    const res = await app.http.get(`/v1/images/${digest}`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.repository).toBe("docker.io/bkimminich/juice-shop");
    expect(res.body.tags).toEqual(["v10.2.0"]);
    expect(res.body.is_compliant).toBe(false);
    const critical = res.body.reasons.find((r: { code: string }) => r.code === "severity_threshold");
    expect(critical.count).toBe(countTrivyJson(raw).critical);
    expect(critical.ids.length).toBeGreaterThan(0);
    expect(critical.ids[0]).toMatch(/^CVE-|^GHSA-/);
  });

  test("a golden without RepoDigests and without ?digest= is refused with missing_digest and writes nothing", async () => {
    await app.flushDecisions(); // an earlier test's lookup is logged asynchronously; let it land before counting
    const before = await app.database.rowCounts();
    const body = JSON.stringify({ ...readFixtureJson("alpine-310.json.golden"), CreatedAt: "2021-01-01T00:00:00Z" });
    const res = await upload(body);
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe("missing_digest");
    expect(res.body.detail).toMatch(/\?digest=/);
    expect(await app.database.rowCounts()).toEqual(before);
  });
});

describe("identity and storage", () => {
  test("when the same bytes are uploaded again, then 200 duplicate and no new rows", async () => {
    const body = JSON.stringify({ ...readFixtureJson("ubuntu-1804.json.golden"), ReportID: "duplicate-test" });
    const first = await upload(body, `?digest=${fakeDigest("dup")}`);
    expect(first.status).toBe(201);
    await app.flushDecisions(); // an earlier test's lookup is logged asynchronously; let it land before counting
    const before = await app.database.rowCounts();
    const again = await upload(body, `?digest=${fakeDigest("dup")}`);
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    expect(again.body.report_id).toBe(first.body.report_id);
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("when a report is gzip-encoded, then it is decoded, and /raw gives back the uploaded bytes", async () => {
    const raw = readFixtureJson("debian-stretch.json.golden");
    raw.CreatedAt = "2022-02-02T00:00:00Z";
    const bytes = Buffer.from(JSON.stringify(raw));
    const res = await postBytes(app.service.url, `/v1/reports?digest=${fakeDigest("gz")}`, gzipSync(bytes), {
      ...auth(),
      "Content-Type": "application/json",
      "Content-Encoding": "gzip",
    });
    expect(res.status).toBe(201);
    expect(res.body.summary).toEqual(countTrivyJson(raw));
    const back = await app.http.get(`/v1/reports/${res.body.report_id}/raw`).set(auth()).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => cb(null, Buffer.concat(chunks)));
    });
    expect(back.status).toBe(200);
    expect(Buffer.compare(back.body as Buffer, bytes)).toBe(0);
    const report = await app.http.get(`/v1/reports/${res.body.report_id}`).set(auth());
    expect(report.body.scanned_at).toBe("2022-02-02T00:00:00.000Z");
    expect(report.body.images[0].image_digest).toBe(fakeDigest("gz"));
  });

  test("when finding fields carry tabs, newlines, backslashes and COPY's own markers, then they are stored exactly", async () => {
    // Findings are written with COPY's text format, where these characters are syntax; the database must hold the
    // report's strings, not their escaped or unescaped forms.
    const awkward = {
      PkgName: "pkg\twith\ttabs",
      InstalledVersion: "1.0\n2.0\r\n3.0",
      FixedVersion: "\\N",
      PkgIdentifier: { PURL: "pkg:generic/a\\.b\\\\c?x=\\." },
    };
    const target = "C:\\Program Files\\app\tlayer\n2";
    const raw = readFixtureJson("alpine-310.json.golden");
    raw.CreatedAt = "2024-04-04T00:00:00Z";
    raw.Results[0].Target = target;
    Object.assign(raw.Results[0].Vulnerabilities[0], awkward);
    const id = raw.Results[0].Vulnerabilities[0].VulnerabilityID as string;
    const res = await upload(JSON.stringify(raw), `?digest=${fakeDigest("copy-escapes")}`);
    expect(res.status).toBe(201);
    const { rows } = await app.database.db.pool.query(
      `SELECT pkg_name, installed_version, fixed_version, purl, target FROM findings
        WHERE report_id = $1 AND vulnerability_id = $2 AND pkg_name = $3`,
      [res.body.report_id, id, awkward.PkgName],
    );
    expect(rows).toEqual([
      { pkg_name: awkward.PkgName, installed_version: awkward.InstalledVersion, fixed_version: "\\N", purl: awkward.PkgIdentifier.PURL, target },
    ]);
    const { rows: counted } = await app.database.db.pool.query("SELECT count(*)::int AS n, count(*) FILTER (WHERE target = $2)::int AS in_target FROM findings WHERE report_id = $1", [res.body.report_id, target]);
    const vulnerabilities = (raw.Results as Array<{ Vulnerabilities?: unknown[] }>).reduce((n, r) => n + (r.Vulnerabilities?.length ?? 0), 0);
    expect(counted[0]).toEqual({ n: vulnerabilities, in_target: raw.Results[0].Vulnerabilities.length });
  });

  test("when a report names two digests, then two image_scans rows are keyed", async () => {
    const raw = readFixtureJson("centos-7.json.golden");
    raw.CreatedAt = "2023-03-03T00:00:00Z";
    const [a, b] = [fakeDigest("two-a"), fakeDigest("two-b")];
    const res = await upload(JSON.stringify(raw), `?digest=${a}&digest=${b}&image=ghcr.io/acme/app:1.0`);
    expect(res.status).toBe(201);
    expect(res.body.images.map((i: { image_digest: string }) => i.image_digest).sort()).toEqual([a, b].sort());
    const rows = await app.database.db.pool.query("SELECT image_digest, repository, tags FROM image_scans WHERE image_digest = ANY($1)", [[a, b]]);
    expect(rows.rowCount).toBe(2);
    for (const row of rows.rows) {
      expect(row.repository).toBe("ghcr.io/acme/app");
      expect(row.tags).toEqual(["1.0"]);
    }
  });

  test("vulnerability metadata is stored once per ID, not once per finding", async () => {
    const dup = await app.database.db.pool.query(
      "SELECT id FROM vulnerabilities GROUP BY id HAVING count(*) > 1",
    );
    expect(dup.rowCount).toBe(0); // the primary key already forbids this; the next check is the one that can fail
    const ids = await app.database.db.pool.query<{ stored: string; referenced: string }>(
      "SELECT (SELECT count(*) FROM vulnerabilities) AS stored, (SELECT count(DISTINCT vulnerability_id) FROM findings) AS referenced",
    );
    expect(Number(ids.rows[0]!.referenced)).toBeGreaterThan(0);
    expect(ids.rows[0]!.stored).toBe(ids.rows[0]!.referenced);
    const cols = await app.database.db.pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'findings' AND column_name IN ('title', 'description')",
    );
    expect(cols.rowCount).toBe(0);
    const juice = await app.database.db.pool.query(
      "SELECT count(DISTINCT f.vulnerability_id) AS ids, count(*) AS findings FROM findings f JOIN vulnerabilities v ON v.id = f.vulnerability_id WHERE f.kind = 'vulnerability'",
    );
    expect(Number(juice.rows[0].ids)).toBeLessThan(Number(juice.rows[0].findings));
  });
});

describe("the newest scan wins", () => {
  function variant(createdAt: string, critical: boolean, marker: string) {
    const raw = readFixtureJson("fluentd-gems.json.golden");
    raw.CreatedAt = createdAt;
    raw.ReportID = marker;
    if (!critical) {
      for (const r of raw.Results ?? []) r.Vulnerabilities = (r.Vulnerabilities ?? []).filter((v: { Severity: string }) => v.Severity !== "CRITICAL");
    }
    return JSON.stringify(raw);
  }

  test("when an older report arrives after a newer one, then the newer verdict stays", async () => {
    const digest = fakeDigest("order");
    const newer = await upload(variant("2024-06-01T00:00:00Z", false, "newer"), `?digest=${digest}`);
    expect(newer.status).toBe(201);
    const older = await upload(variant("2024-01-01T00:00:00Z", true, "older"), `?digest=${digest}`);
    expect(older.status).toBe(201);
    expect(older.body.images[0].current_report_id).toBe(newer.body.report_id);
    expect(older.body.images[0].is_compliant).toBe(true);
    const lookup = await app.http.get(`/v1/images/${digest}/compliance`).set(auth());
    expect(lookup.body.is_compliant).toBe(true);
    expect(lookup.body.scanned_at).toBe("2024-06-01T00:00:00.000Z");
  });

  test("when 20 different reports for one digest are uploaded at once, then one row points at the newest scan", async () => {
    const digest = fakeDigest("concurrent");
    const days = Array.from({ length: 20 }, (_, i) => i + 1);
    const responses = await Promise.all(
      days.map((d) => upload(variant(`2025-01-${String(d).padStart(2, "0")}T00:00:00Z`, d % 2 === 0, `c${d}`), `?digest=${digest}`)),
    );
    expect(responses.map((r) => r.status)).toEqual(days.map(() => 201));
    const rows = await app.database.db.pool.query(
      "SELECT s.scanned_at, r.scanned_at AS report_scanned_at FROM image_scans s JOIN scan_reports r ON r.id = s.latest_report_id WHERE s.image_digest = $1",
      [digest],
    );
    expect(rows.rowCount).toBe(1);
    expect(rows.rows[0].report_scanned_at.toISOString()).toBe("2025-01-20T00:00:00.000Z");
    expect(rows.rows[0].scanned_at.toISOString()).toBe("2025-01-20T00:00:00.000Z");
  });
});

describe("refusals write nothing", () => {
  const sarif = () => readFixture("alpine-310.sarif.golden");
  const schemaV1 = () => JSON.stringify(readFixtureJson("alpine-310.json.golden").Results);
  const k8s = () =>
    JSON.stringify({
      ClusterName: "kind-kind",
      Resources: [{ Namespace: "default", Kind: "Deployment", Name: "app", Results: readFixtureJson("alpine-310.json.golden").Results }],
    });
  const asff = () =>
    JSON.stringify([{ SchemaVersion: "2018-10-08", Id: "alpine/CVE-2019-1549", ProductArn: "arn:aws:securityhub:eu-west-1::product/aquasecurity/aquasecurity", GeneratorId: "Trivy" }]);
  const wrongTypes = () => {
    const raw = readFixtureJson("alpine-310.json.golden");
    raw.Results = "not a list";
    return JSON.stringify(raw);
  };

  test.each([
    ["invalid JSON", () => "{not json", "", 400, "invalid_json"],
    ["an empty body", () => "", "", 400, "empty_body"],
    ["wrong types", wrongTypes, `?digest=${fakeDigest("x")}`, 422, "invalid_report"],
    ["a SchemaVersion 1 array", schemaV1, `?digest=${fakeDigest("x")}`, 415, "trivy_schema_v1"],
    ["a trivy k8s cluster report", k8s, `?digest=${fakeDigest("x")}`, 415, "trivy_k8s_report"],
    ["AWS Security Hub findings (Trivy's asff template)", asff, `?digest=${fakeDigest("x")}`, 415, "asff_not_supported"],
    ["a SARIF file sent with format=trivy", sarif, `?format=trivy&digest=${fakeDigest("x")}`, 422, "format_mismatch"],
    ["a malformed digest parameter", () => readFixture("alpine-310.json.golden"), "?digest=sha256:nothex", 422, "invalid_parameter"],
  ])("%s → %i %s", async (_what, body, query, status, code) => {
    await app.flushDecisions(); // an earlier test's lookup is logged asynchronously; let it land before counting
    const before = await app.database.rowCounts();
    const res = await upload(body(), query);
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
    expect(await app.database.rowCounts()).toEqual(before);
  });

  test("a body over MAX_REPORT_BYTES → 413, counted while streaming, also when gzip hides the size", async () => {
    const small = await startTestApp({ env: { MAX_REPORT_BYTES: "8kb" } });
    try {
      const before = await small.database.rowCounts();
      const big = readFixture("juice-shop-v10.2.0.json");
      const headers = { Authorization: `Bearer ${small.adminToken}`, "Content-Type": "application/json" };
      const plain = await postBytes(small.service.url, "/v1/reports", big, headers);
      expect(plain.status).toBe(413);
      expect(plain.body.code).toBe("payload_too_large");
      const zipped = gzipSync(big);
      expect(zipped.length).toBeLessThan(big.length);
      const gz = await postBytes(small.service.url, "/v1/reports", zipped, { ...headers, "Content-Encoding": "gzip" });
      expect(gz.status).toBe(413);
      expect(await small.database.rowCounts()).toEqual(before);
    } finally {
      await small.close();
    }
  });
});
