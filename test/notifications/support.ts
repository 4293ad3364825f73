/** Helpers for the notification tests: small Trivy reports, destinations and rules through the real API. */
import type { TestApp } from "../support/test-app";

let scanClock = Date.parse("2026-01-01T00:00:00Z");

/** A Trivy SchemaVersion 2 report with the given vulnerabilities; each call is scanned a minute after the last. */
export function trivyReport(options: { repository?: string; vulnerabilities?: Array<{ id: string; severity: string; fixed?: string }>; scannedAt?: Date } = {}): string {
  scanClock += 60_000;
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: (options.scannedAt ?? new Date(scanClock)).toISOString(),
    ArtifactName: `${options.repository ?? "ghcr.io/acme/api"}:1.0`,
    ArtifactType: "container_image",
    Metadata: { OS: { Family: "alpine", Name: "3.19" } },
    Results: [
      {
        Target: "image (alpine 3.19)",
        Class: "os-pkgs",
        Type: "alpine",
        Vulnerabilities: (options.vulnerabilities ?? []).map((v) => ({
          VulnerabilityID: v.id,
          PkgName: "openssl",
          InstalledVersion: "3.1.0",
          FixedVersion: v.fixed ?? "3.1.5",
          Status: "fixed",
          Severity: v.severity,
          Title: `${v.id} in openssl`,
        })),
      },
    ],
  });
}

export const critical = (id = "CVE-2026-0001") => [{ id, severity: "CRITICAL" }];

export async function upload(app: TestApp, digest: string, body: string, repository = "ghcr.io/acme/api"): Promise<any> {
  const res = await app.http
    .post("/v1/reports")
    .query({ digest, image: `${repository}:1.0` })
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(body);
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function createDestination(app: TestApp, body: Record<string, unknown>): Promise<any> {
  const res = await app.http.post("/v1/notifications/destinations").set({ Authorization: `Bearer ${app.adminToken}` }).send(body);
  if (res.status !== 201) throw new Error(`destination: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function createRule(app: TestApp, body: Record<string, unknown>): Promise<any> {
  const res = await app.http.post("/v1/notifications/rules").set({ Authorization: `Bearer ${app.adminToken}` }).send(body);
  if (res.status !== 201) throw new Error(`rule: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A destination and one rule for `events` on it. */
export async function subscribe(app: TestApp, destination: Record<string, unknown>, rule: Record<string, unknown> = {}): Promise<{ destination: any; rule: any }> {
  const d = await createDestination(app, { name: `d-${Math.random().toString(36).slice(2, 10)}`, type: "webhook", ...destination });
  const r = await createRule(app, { name: `r-${d.name}`, destination_id: d.id, events: ["verdict.changed"], ...rule });
  return { destination: d, rule: r };
}

export async function deliveries(app: TestApp, query: Record<string, string> = {}): Promise<any[]> {
  const res = await app.http.get("/v1/notifications/deliveries").query({ limit: "500", ...query }).set({ Authorization: `Bearer ${app.adminToken}` });
  if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}

export const PRIVATE_OK = { NOTIFICATION_ALLOW_PRIVATE_NETWORKS: "true" };
/** Fast retries for tests: 50 ms, doubling, at most 200 ms. */
export const FAST_RETRIES = { NOTIFICATION_RETRY_INITIAL_MS: "50", NOTIFICATION_RETRY_MAX_MS: "200", NOTIFICATION_POLL_INTERVAL_MS: "200" };
