/**
 * Issue 17 item 6: the stored copy of a report (GET /v1/reports/{id}/raw, table scan_report_raw) does not show
 * secrets or the text around them to compliance:read tokens (Kyverno's among them) or to scan_analyst. Rule, file,
 * line numbers and a masked match stay; report_sha256 stays the hash of the uploaded bytes.
 */
import crypto from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { createAnalystLogin, type AnalystLogin } from "../sql/support/analyst-login";

const PAT = "ghp_R3alS3cretT0kenValue0123456789abcdefAB";
const AWS_KEY = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY99";
const DB_PASSWORD = "hunter2-but-longer-9f8e7d";
/** Every secret text the uploads below carry; none may come back from the stored copy. */
const SECRETS = [PAT, AWS_KEY, DB_PASSWORD];

let app: TestApp;
let reader: string;
let analyst: AnalystLogin;
let serviceClosed = false;

beforeAll(async () => {
  app = await startTestApp();
  reader = await app.token("compliance:read");
  analyst = await createAnalystLogin(app, "masking");
});
afterAll(async () => {
  await analyst?.close();
  if (serviceClosed) await app.database.drop();
  else await app?.close();
});

/** The secrets fixture with an unmasked match and the file's lines around it, as a Trivy without masking writes. */
function trivyWithSecretContext(): string {
  const report = readFixtureJson("misconfigurations_and_secrets.json");
  const result = report.Results.find((r: any) => r.Secrets?.length);
  const secret = result.Secrets[0];
  secret.Match = `ENV GITHUB_PAT=${PAT}`;
  secret.Code = {
    Lines: [
      { Number: 22, Content: `ENV AWS_SECRET_ACCESS_KEY=${AWS_KEY}`, IsCause: false, Annotation: "", Truncated: false, Highlighted: `ENV AWS_SECRET_ACCESS_KEY=${AWS_KEY}`, FirstCause: false, LastCause: false },
      { Number: 23, Content: `RUN echo ${DB_PASSWORD} | login`, IsCause: false, Annotation: "", Truncated: false, Highlighted: `RUN echo ${DB_PASSWORD} | login`, FirstCause: false, LastCause: false },
      { Number: 24, Content: `ENV GITHUB_PAT=${PAT}`, IsCause: true, Annotation: "", Truncated: false, Highlighted: `ENV GITHUB_PAT=${PAT}`, FirstCause: true, LastCause: true },
      { Number: 25, Content: "", IsCause: false, Annotation: "", Truncated: false, Highlighted: "", FirstCause: false, LastCause: false },
    ],
  };
  return JSON.stringify(report, null, 2);
}

const upload = (body: string, query: Record<string, string>) =>
  app.http.post("/v1/reports").query(query).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body);

async function rawAsReader(reportId: string): Promise<string> {
  const res = await app.http.get(`/v1/reports/${reportId}/raw`).set({ Authorization: `Bearer ${reader}` });
  expect(res.status).toBe(200);
  return res.text;
}

async function rawAsAnalyst(reportId: string): Promise<{ text: string; masked: boolean | null }> {
  const { rows } = await analyst.pool.query<{ gzip_bytes: Buffer; secrets_masked: boolean | null }>(
    "SELECT gzip_bytes, secrets_masked FROM scan_report_raw WHERE report_id = $1",
    [reportId],
  );
  return { text: gunzipSync(rows[0]!.gzip_bytes).toString("utf8"), masked: rows[0]!.secrets_masked };
}

const expectNoSecrets = (text: string) => {
  for (const s of SECRETS) expect(text).not.toContain(s);
};

describe("when a Trivy report with secret findings and their code lines is uploaded", () => {
  const body = trivyWithSecretContext();
  let reportId: string;

  test("then the stored copy keeps rule, file, line numbers and a masked match, and no secret", async () => {
    const res = await upload(body, { digest: fakeDigest("masking-trivy") });
    expect(res.status).toBe(201);
    reportId = res.body.report_id;
    const text = await rawAsReader(reportId);
    expectNoSecrets(text);
    const stored = JSON.parse(text);
    const result = stored.Results.find((r: any) => r.Secrets?.length);
    const secret = result.Secrets[0];
    expect(result.Target).toBe(JSON.parse(body).Results.find((r: any) => r.Secrets?.length).Target);
    expect(secret).toMatchObject({ RuleID: "github-pat", Category: "GitHub", Severity: "CRITICAL", StartLine: 24, EndLine: 24, Match: "ENV GITHUB_PAT=*****" });
    expect(secret.Code.Lines.map((l: any) => [l.Number, l.Content, l.IsCause])).toEqual([
      [22, "ENV AWS_SECRET_ACCESS_KEY=*****", false],
      [23, "*****", false],
      [24, "ENV GITHUB_PAT=*****", true],
      [25, "", false],
    ]);
    // The rest of the report is what was uploaded.
    expect(stored.Results.map((r: any) => r.Misconfigurations?.length ?? 0)).toEqual(JSON.parse(body).Results.map((r: any) => r.Misconfigurations?.length ?? 0));
  });

  test("then scan_analyst reads the masked copy too, and it says it is masked", async () => {
    const { text, masked } = await rawAsAnalyst(reportId);
    expectNoSecrets(text);
    expect(masked).toBe(true);
  });

  test("then report_sha256 is the hash of the uploaded bytes, so the same upload again is a duplicate", async () => {
    const report = await app.http.get(`/v1/reports/${reportId}`).set({ Authorization: `Bearer ${reader}` });
    expect(report.body.report_sha256).toBe(crypto.createHash("sha256").update(body).digest("hex"));
    const again = await upload(body, { digest: fakeDigest("masking-trivy") });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, report_id: reportId });
  });
});

describe("when CI's ignore file took the secret out of the list and `--show-suppressed` kept it", () => {
  test("then the suppressed secret is a finding that counts, and its text is masked in the stored copy", async () => {
    const report = JSON.parse(trivyWithSecretContext());
    // Every secret is a suppressed one: no "Secrets" key anywhere in the bytes.
    let suppressed = 0;
    for (const result of report.Results) {
      if (!result.Secrets?.length) continue;
      result.ExperimentalModifiedFindings = result.Secrets.map((finding: unknown) => ({ Type: "secret", Status: "ignored", Statement: "", Source: ".trivyignore", Finding: finding }));
      suppressed += result.Secrets.length;
      delete result.Secrets;
    }
    const body = JSON.stringify(report, null, 2);
    expect(body).not.toContain('"Secrets"');
    const res = await upload(body, { digest: fakeDigest("masking-suppressed") });
    expect(res.status).toBe(201);
    expect(res.body.summary.secrets).toBe(suppressed);
    expect(res.body.images[0]).toMatchObject({ is_compliant: false });
    const text = await rawAsReader(res.body.report_id);
    expectNoSecrets(text);
    const stored = JSON.parse(text).Results.flatMap((r: any) => r.ExperimentalModifiedFindings ?? []).find((m: any) => m.Finding.RuleID === "github-pat");
    expect(stored).toMatchObject({ Type: "secret", Status: "ignored", Finding: { RuleID: "github-pat", Match: "ENV GITHUB_PAT=*****" } });
    expect((await rawAsAnalyst(res.body.report_id)).masked).toBe(true);
  });
});

describe("when a report has no secret findings", () => {
  test("then the stored copy is the uploaded bytes exactly", async () => {
    const body = JSON.stringify(readFixtureJson("alpine-310.json.golden"), null, 1);
    const res = await upload(body, { digest: fakeDigest("masking-none") });
    expect(res.status).toBe(201);
    expect(await rawAsReader(res.body.report_id)).toBe(body);
    expect((await rawAsAnalyst(res.body.report_id)).masked).toBe(false);
  });
});

describe("when the secret arrives as SARIF", () => {
  test("then the Match line of the result's message is masked in the stored copy", async () => {
    const sarif = {
      version: "2.1.0",
      $schema: "https://json.schemastore.org/sarif-2.1.0.json",
      runs: [
        {
          tool: { driver: { name: "Trivy", rules: [{ id: "github-pat", name: "Secret", properties: { tags: ["secret", "security", "CRITICAL"], "security-severity": "9.5" } }] } },
          results: [
            {
              ruleId: "github-pat",
              ruleIndex: 0,
              level: "error",
              message: { text: `Artifact: Dockerfile\nType: dockerfile\nSecret GitHub Personal Access Token\nSeverity: CRITICAL\nMatch: ENV GITHUB_PAT=${PAT}` },
              locations: [{ physicalLocation: { artifactLocation: { uri: "Dockerfile", uriBaseId: "ROOTPATH" }, region: { startLine: 24, endLine: 24, snippet: { text: `ENV GITHUB_PAT=${PAT}` } } } }],
            },
          ],
        },
      ],
    };
    const res = await upload(JSON.stringify(sarif), { digest: fakeDigest("masking-sarif") });
    expect(res.status).toBe(201);
    expect(res.body.summary.secrets).toBe(1);
    const text = await rawAsReader(res.body.report_id);
    expectNoSecrets(text);
    const result = JSON.parse(text).runs[0].results[0];
    expect(result.message.text).toBe("Artifact: Dockerfile\nType: dockerfile\nSecret GitHub Personal Access Token\nSeverity: CRITICAL\nMatch: ENV GITHUB_PAT=*****");
    expect(result.locations[0].physicalLocation.region).toMatchObject({ startLine: 24, endLine: 24, snippet: { text: "ENV GITHUB_PAT=*****" } });
  });
});

describe("when the Trivy Operator broadcasts an ExposedSecretReport", () => {
  function exposedSecretReport(digest: string) {
    const base = readFixtureJson("vulnerabilityreport_many.json");
    base.report.artifact.digest = digest;
    return {
      apiVersion: base.apiVersion,
      kind: "ExposedSecretReport",
      metadata: { ...base.metadata, name: "replicaset-app-secrets" },
      report: {
        updateTimestamp: "2023-03-23T16:25:00Z",
        scanner: base.report.scanner,
        registry: base.report.registry,
        artifact: base.report.artifact,
        secrets: [{ ruleID: "aws-secret-access-key", category: "AWS", severity: "CRITICAL", title: "AWS Secret Access Key", target: "/app/.env", match: `AWS_SECRET_ACCESS_KEY=${AWS_KEY}` }],
        summary: { criticalCount: 1, highCount: 0, mediumCount: 0, lowCount: 0 },
      },
    };
  }

  test("then the stored copy has the match masked, and the same broadcast again is still a duplicate", async () => {
    const resource = exposedSecretReport(fakeDigest("masking-operator"));
    const send = () => app.http.post("/v1/integrations/trivy-operator").set({ Authorization: `Bearer ${app.adminToken}` }).send(resource);
    const first = await send();
    expect(first.status).toBe(201);
    const reportId = first.body.report_id ?? first.body.results?.[0]?.report_id;
    const text = await rawAsReader(reportId);
    expectNoSecrets(text);
    expect(JSON.parse(text).items[0].report.secrets[0]).toMatchObject({ ruleID: "aws-secret-access-key", target: "/app/.env", match: "AWS_SECRET_ACCESS_KEY=*****" });
    const again = await send();
    expect(again.status).toBe(200);
  });
});

describe("when copies were stored before masking existed", () => {
  test("then the next start masks them once and leaves the others as they are", async () => {
    const body = `${trivyWithSecretContext()}\n`; // other bytes than above: a report of its own
    const res = await upload(body, { digest: fakeDigest("masking-legacy") });
    expect(res.status).toBe(201);
    const legacy = res.body.report_id as string;
    // As a copy written by an earlier version: the uploaded bytes, unmasked, secrets_masked unknown.
    await app.database.db.pool.query("UPDATE scan_report_raw SET gzip_bytes = $2, byte_size = $3, secrets_masked = NULL WHERE report_id = $1", [
      legacy,
      gzipSync(Buffer.from(body)),
      Buffer.byteLength(body),
    ]);
    expect((await rawAsAnalyst(legacy)).text).toContain(PAT);
    await app.service.close();
    serviceClosed = true;
    const restarted = await startTestApp({ database: app.database });
    try {
      const { text, masked } = await rawAsAnalyst(legacy);
      expectNoSecrets(text);
      expect(masked).toBe(true);
      const { rows } = await app.database.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM scan_report_raw WHERE secrets_masked IS NULL");
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await restarted.service.close();
    }
  });
});
