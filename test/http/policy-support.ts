/** Helpers shared by the policy, exception, decision and time tests: uploads of real fixtures and raw-file counts. */
import { readFixture, readFixtureJson } from "../support/fixtures";
import type { TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

export const JUICE_SHOP = "juice-shop-v10.2.0.json";
export const CENTOS_7 = "centos-7.json.golden";
export const SECRETS = "misconfigurations_and_secrets.json";
export const ALPINE = "alpine-310.json.golden";

/** Uploads a fixture as it is (a golden gets `?digest=` and, if given, `image=`); returns the image digest. */
export async function uploadFixture(app: TestApp, name: string, options: { digest?: string; image?: string } = {}): Promise<string> {
  const raw = readFixtureJson(name);
  const repoDigest = (raw.Metadata?.RepoDigests as string[] | undefined)?.[0];
  const digest = repoDigest ? repoDigest.split("@")[1]! : (options.digest ?? fakeDigest(`${name}:${options.image ?? ""}`));
  const query = new URLSearchParams();
  if (!repoDigest) query.set("digest", digest);
  if (options.image) query.set("image", options.image);
  const res = await app.http
    .post(`/v1/reports?${query}`)
    .set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" })
    .send(readFixture(name).toString("utf8"));
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload of ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return digest;
}

type Json = Record<string, any>;

/** Vulnerabilities in the raw report that a severity limit counts (not_affected never does). */
export function rawVulnerabilities(name: string, severity: string, options: { ignoreUnfixed?: boolean } = {}): Json[] {
  const out: Json[] = [];
  for (const result of (readFixtureJson(name).Results as Json[] | null) ?? [])
    for (const v of (result.Vulnerabilities as Json[] | null) ?? []) {
      if (v.Status === "not_affected" || v.Severity !== severity) continue;
      if (options.ignoreUnfixed && !(typeof v.FixedVersion === "string" && v.FixedVersion !== "")) continue;
      out.push(v);
    }
  return out;
}

export function rawSecrets(name: string): Json[] {
  return ((readFixtureJson(name).Results as Json[] | null) ?? []).flatMap((r) => (r.Secrets as Json[] | null) ?? []);
}

export function rawFailedMisconfigurations(name: string): Json[] {
  return ((readFixtureJson(name).Results as Json[] | null) ?? []).flatMap((r) =>
    ((r.Misconfigurations as Json[] | null) ?? []).filter((m) => m.Status === "FAIL"),
  );
}

export function bearer(token: string) {
  return { Authorization: `Bearer ${token}` };
}

export async function putPolicy(app: TestApp, rules: unknown, token = app.adminToken) {
  return app.http.put("/v1/policy").set(bearer(token)).send(rules as object);
}

export async function verdict(app: TestApp, digest: string) {
  const { rows } = await app.database.db.pool.query("SELECT is_compliant, status, reasons, policy_version FROM image_scans WHERE image_digest = $1", [digest]);
  return rows[0] as { is_compliant: boolean; status: string; reasons: Json[]; policy_version: number };
}
