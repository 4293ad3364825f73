import { ECRClient } from "@aws-sdk/client-ecr";
import { DomainError } from "../../domain/errors";
import { isAwsRegion } from "./names";

/** At most this many regions have a client at a time; the least recently used one is closed to make room. */
const MAX_CLIENTS = 16;

/**
 * ECR clients, one per region, configured the standard AWS way: the default credential chain, AWS_REGION (or the
 * profile's region), AWS_MAX_ATTEMPTS / AWS_RETRY_MODE for retries, and AWS_ENDPOINT_URL_ECR (or AWS_ENDPOINT_URL)
 * for a custom endpoint — the SDK reads all of these itself.
 *
 * Bounded (issue 17 item 3: one client per region string named in a lookup, never freed, took a replica from 98 MB
 * to 644 MB): only AWS region names get a client, and at most MAX_CLIENTS of them, least recently used first out.
 */
export class EcrClients {
  private readonly byRegion = new Map<string, ECRClient>();

  constructor(private readonly maxClients = MAX_CLIENTS) {}

  /** How many clients are open (tests prove the map does not grow). */
  get size(): number {
    return this.byRegion.size;
  }

  /** `region` undefined = the SDK's default region (AWS_REGION). */
  forRegion(region?: string): ECRClient {
    if (region !== undefined && !isAwsRegion(region)) {
      throw new DomainError("invalid", "ecr_region_invalid", `"${region}" is not an AWS region name (e.g. eu-west-1).`, [{ path: "region", message: "not an AWS region" }]);
    }
    const key = region ?? "";
    let client = this.byRegion.get(key);
    if (client) {
      this.byRegion.delete(key); // re-inserted below: Map order is the recency order
    } else {
      client = new ECRClient(region ? { region } : {});
      while (this.byRegion.size >= this.maxClients) this.evictOldest();
    }
    this.byRegion.set(key, client);
    return client;
  }

  /** The region a client talks to, for building `<account>.dkr.ecr.<region>.amazonaws.com`. */
  async regionOf(client: ECRClient): Promise<string> {
    try {
      return await client.config.region();
    } catch (error) {
      throw ecrProblem(error, "resolving the AWS region");
    }
  }

  /** The account of the default credentials, when they say it (AWS_ACCOUNT_ID, profiles, SSO, assumed roles). */
  async credentialsAccount(): Promise<string | undefined> {
    const identity = await this.forRegion().config.credentials();
    return (identity as { accountId?: string }).accountId;
  }

  destroy(): void {
    for (const client of this.byRegion.values()) client.destroy();
    this.byRegion.clear();
  }

  private evictOldest(): void {
    const [key, client] = this.byRegion.entries().next().value as [string, ECRClient];
    this.byRegion.delete(key);
    // A request may still be using it: its sockets are closed once that has surely finished.
    setTimeout(() => client.destroy(), 120_000).unref();
  }
}

const NOT_FOUND: Record<string, string> = {
  RepositoryNotFoundException: "ecr_repository_not_found",
  ImageNotFoundException: "ecr_image_not_found",
  ScanNotFoundException: "ecr_scan_not_found",
};

/** The AWS error name, whatever the error class (service exceptions, credential and SDK client errors). */
export function awsErrorName(error: unknown): string {
  const e = error as { name?: string; Code?: string; code?: string } | null;
  return String(e?.name ?? e?.Code ?? e?.code ?? "Error");
}

/**
 * Any failure of an ECR call → a DomainError with a stable code, so the problem mapper answers clearly and nothing
 * is written: 404 for what ECR says does not exist, 503 for throttling (after the SDK's retries) and missing
 * credentials or region, 502 for refusals and answers that are not what ECR's API defines.
 */
export function ecrProblem(error: unknown, doing: string): DomainError {
  if (error instanceof DomainError) return error;
  const name = awsErrorName(error);
  const message = String((error as Error | null)?.message ?? error);
  const where = `ECR said while ${doing}`;
  if (NOT_FOUND[name]) return new DomainError("not_found", NOT_FOUND[name], `${name}: ${message} (${where}).`);
  if (/Throttl|TooManyRequests|RequestLimitExceeded|LimitExceeded/i.test(name)) {
    return new DomainError("unavailable", "ecr_throttled", `ECR throttled the requests (${name}) while ${doing}, also after the SDK's retries; try again shortly.`, undefined, {
      aws_error: name,
    });
  }
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new DomainError(
      "unavailable",
      "ecr_credentials_missing",
      "No AWS credentials were found for ECR: give the service credentials the standard way (an IAM role for the " +
        "service account, instance profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).",
    );
  }
  if (/Region is missing/i.test(message)) {
    return new DomainError("unavailable", "ecr_region_missing", "No AWS region is configured for ECR: set AWS_REGION.");
  }
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken|InvalidClientTokenId|SignatureDoesNotMatch/i.test(name)) {
    return new DomainError("upstream", "ecr_access_denied", `ECR refused the request (${name}: ${message}) while ${doing}: check the IAM permissions (docs/integrations.md).`, undefined, {
      aws_error: name,
    });
  }
  if ((error as { $response?: unknown } | null)?.$response !== undefined || /Deserialization error|Unexpected token|JSON/i.test(message)) {
    return badResponse(`the answer could not be read (${message.split("\n")[0]}) while ${doing}`);
  }
  const code = (error as { code?: string } | null)?.code;
  if (code && /^E[A-Z]+$/.test(code)) {
    return new DomainError("upstream", "ecr_unreachable", `ECR could not be reached (${code}) while ${doing}.`);
  }
  return new DomainError("upstream", "ecr_error", `${name}: ${message} (${where}).`, undefined, { aws_error: name });
}

export function badResponse(what: string, errors?: Array<{ path: string; message: string }>): DomainError {
  return new DomainError("upstream", "ecr_bad_response", `ECR's answer was not what its API defines: ${what}. Nothing was stored.`, errors);
}
