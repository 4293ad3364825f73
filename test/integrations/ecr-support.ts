/** Shared set-up of the ECR tests: a fake ECR and the standard AWS environment pointing the real SDK at it. */
import { FakeEcr } from "../support/fake-ecr";

export const REGISTRY_ID = "123456789012";
export const REGION = "eu-west-1";
export const HOST = `${REGISTRY_ID}.dkr.ecr.${REGION}.amazonaws.com`;
export const MAX_ATTEMPTS = 3;

/** The environment a user would set; the SDK reads it itself (set before the app starts). */
export function awsEnvironment(fake: FakeEcr): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_ECR: fake.url,
    AWS_ACCESS_KEY_ID: "AKIAFAKEFAKEFAKE0001",
    AWS_SECRET_ACCESS_KEY: "fake-secret-key-for-tests",
    // The credentials' own account: with ECR_REGISTRIES unset, the one registry lookups and events may call AWS for.
    AWS_ACCOUNT_ID: REGISTRY_ID,
    AWS_REGION: REGION,
    AWS_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

export async function startFakeEcr(): Promise<FakeEcr> {
  const fake = await new FakeEcr(REGISTRY_ID).start();
  Object.assign(process.env, awsEnvironment(fake));
  return fake;
}

/** Expected summary counts from raw ECR findings, restating the documented mapping independently of the decoder. */
export function expectedSummary(findings: Array<Record<string, any>>, enhanced = false) {
  const s = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, fixable: 0, secrets: 0, misconfigurations: 0 };
  const bucket: Record<string, keyof typeof s> = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "low", INFORMATIONAL: "low" };
  for (const f of findings) {
    if (enhanced && f.status === "CLOSED") continue;
    const packages: Array<Record<string, any>> = enhanced ? (f.packageVulnerabilityDetails?.vulnerablePackages ?? [{}]) : [{}];
    for (const p of packages) {
      s[bucket[String(f.severity)] ?? "unknown"]++;
      if (p.fixedInVersion && p.fixedInVersion !== "NotAvailable") s.fixable++;
    }
  }
  return s;
}
