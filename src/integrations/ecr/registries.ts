import type { Logger } from "pino";
import { isAwsRegion } from "./names";

/** One entry of ECR_REGISTRIES: an account (any region) or an account in one region. */
export interface EcrRegistryEntry {
  accountId: string;
  region: string | null;
}

/** ECR_REGISTRIES as configured: a list, `none`, or unset (= the account of the configured credentials, if known). */
export type EcrRegistriesSetting = readonly EcrRegistryEntry[] | "none" | undefined;

/** Parses ECR_REGISTRIES: entries `123456789012` or `123456789012.eu-west-1`, separated by commas or spaces. */
export function parseEcrRegistries(text: string): { entries: EcrRegistryEntry[] | "none" } | { error: string } {
  const items = text.split(/[\s,]+/).filter((i) => i !== "");
  if (items.length === 1 && items[0]!.toLowerCase() === "none") return { entries: "none" };
  const entries: EcrRegistryEntry[] = [];
  for (const item of items) {
    const m = /^(\d{12})(?:[.:]([a-z0-9-]+))?$/.exec(item);
    if (!m) return { error: `"${item}" is neither a 12-digit AWS account ID nor account.region (e.g. 123456789012.eu-west-1); or set none` };
    if (m[2] !== undefined && !isAwsRegion(m[2])) return { error: `"${m[2]}" in "${item}" is not an AWS region name (e.g. eu-west-1)` };
    entries.push({ accountId: m[1]!, region: m[2] ?? null });
  }
  if (entries.length === 0) return { error: "no registry given; list account IDs or account.region pairs, or set none" };
  return { entries };
}

/**
 * AWS's own environment variables that mean "this service is meant to talk to AWS". Without any of them (and without
 * ECR_REGISTRIES) the service makes no AWS call for a lookup or an event at all: asking the SDK's default credential
 * chain would end at the instance metadata endpoint of whatever machine the service runs on.
 */
const AWS_CONFIGURATION = [
  "AWS_ACCESS_KEY_ID",
  "AWS_PROFILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_ACCOUNT_ID",
];

export function awsConfiguredIn(env: NodeJS.ProcessEnv): boolean {
  return AWS_CONFIGURATION.some((name) => (env[name] ?? "").trim() !== "");
}

/**
 * Which ECR registries the service may make AWS calls for on behalf of a lookup, an EventBridge event or a pass tag:
 * those in ECR_REGISTRIES; when it is unset, the account of the configured credentials (known when the credentials
 * carry it: AWS_ACCOUNT_ID, a profile's aws_account_id, SSO, an assumed role or IRSA), else none.
 */
export class EcrRegistryPolicy {
  private account: Promise<string | null> | null = null;
  private accountCheckedAt = 0;

  constructor(
    private readonly options: {
      setting: EcrRegistriesSetting;
      awsConfigured: boolean;
      /** The credentials' account, when they carry one (called only when AWS is configured and ECR_REGISTRIES unset). */
      credentialsAccount: () => Promise<string | undefined>;
      logger: Logger;
      now?: () => number;
    },
  ) {}

  /** Whether AWS calls may be made at all for lookups and events (false: nothing configured). */
  get active(): boolean {
    const { setting, awsConfigured } = this.options;
    return setting === undefined ? awsConfigured : setting !== "none";
  }

  async allows(registryId: string, region: string): Promise<boolean> {
    if (!isAwsRegion(region)) return false;
    const { setting } = this.options;
    if (setting === "none") return false;
    if (setting !== undefined) return setting.some((e) => e.accountId === registryId && (e.region === null || e.region === region));
    if (!this.options.awsConfigured) return false;
    return (await this.defaultAccount()) === registryId;
  }

  /** What is configured, for messages. */
  describe(): string {
    const { setting } = this.options;
    if (setting === "none") return "ECR_REGISTRIES=none";
    if (setting !== undefined) return `ECR_REGISTRIES=${setting.map((e) => (e.region ? `${e.accountId}.${e.region}` : e.accountId)).join(",")}`;
    return this.options.awsConfigured ? "ECR_REGISTRIES is unset: only the account of the configured AWS credentials" : "no AWS configuration and no ECR_REGISTRIES";
  }

  private defaultAccount(): Promise<string | null> {
    const now = (this.options.now ?? Date.now)();
    // A failed resolution (credentials not reachable yet) is tried again a minute later, not on every lookup.
    if (!this.account || (now - this.accountCheckedAt > 60_000 && this.accountFailed)) {
      this.accountCheckedAt = now;
      this.accountFailed = false;
      this.account = this.options.credentialsAccount().then(
        (account) => {
          if (account && /^\d{12}$/.test(account)) return account;
          this.options.logger.warn("the AWS credentials do not say their account: set ECR_REGISTRIES to resolve ECR tags and accept ECR events");
          return null;
        },
        (error: Error) => {
          this.accountFailed = true;
          this.options.logger.warn({ err: error.message }, "the AWS credentials could not be loaded to find their account; ECR tags are not resolved");
          return null;
        },
      );
    }
    return this.account;
  }

  private accountFailed = false;
}
