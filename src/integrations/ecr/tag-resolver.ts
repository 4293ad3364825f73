import { DescribeImagesCommand } from "@aws-sdk/client-ecr";
import type { Logger } from "pino";
import type { TagResolver } from "../../lookup/lookup-compliance";
import { awsErrorName, type EcrClients } from "./client";
import { isEcrRepositoryName, isImageTag } from "./names";
import { parseEcrHost } from "./host";
import type { EcrRegistryPolicy } from "./registries";

export interface EcrTagResolverOptions {
  clients: EcrClients;
  /** Only registries the operator configured are asked (ECR_REGISTRIES). */
  registries: EcrRegistryPolicy;
  logger: Logger;
  clock?: () => number;
  /** How long a resolution is reused: admission asks again for every Pod, ECR should not be asked every time. */
  ttlMs?: number;
  /** How long "no such tag" is reused: short, so a freshly pushed tag is seen soon. */
  negativeTtlMs?: number;
}

/**
 * Resolves `<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` through DescribeImages (registryId = the account,
 * the region from the host). Returns null for other hosts and for tags ECR does not have; throws when ECR cannot
 * answer, or when the host is not a registry of ECR_REGISTRIES (no AWS call is made for it), so the lookup can say
 * why the tag could not be resolved (and still answers 200 not_scanned).
 */
export function ecrTagResolver(options: EcrTagResolverOptions): TagResolver {
  const now = options.clock ?? Date.now;
  const ttl = options.ttlMs ?? 30_000;
  const negativeTtl = options.negativeTtlMs ?? 5_000;
  const cache = new Map<string, { digest: string | null; expires: number }>();
  const inFlight = new Map<string, Promise<string | null>>();

  const ask = async (key: string, registry: { registryId: string; region: string }, repositoryName: string, tag: string) => {
    const client = options.clients.forRegion(registry.region);
    try {
      const answer = await client.send(
        new DescribeImagesCommand({ registryId: registry.registryId, repositoryName, imageIds: [{ imageTag: tag }] }),
      );
      const digest = answer.imageDetails?.[0]?.imageDigest ?? null;
      cache.set(key, { digest, expires: now() + (digest ? ttl : negativeTtl) });
      return digest;
    } catch (error) {
      const name = awsErrorName(error);
      if (name === "ImageNotFoundException" || name === "RepositoryNotFoundException") {
        cache.set(key, { digest: null, expires: now() + negativeTtl });
        return null;
      }
      options.logger.warn({ image: key, aws_error: name, err: (error as Error).message }, "ECR tag resolution failed");
      throw new Error(`ECR could not resolve the tag (${name})`);
    }
  };

  return async ({ registry, path, tag }) => {
    const ecr = parseEcrHost(registry);
    if (!ecr) return null;
    if (!isEcrRepositoryName(path) || !isImageTag(tag)) return null;
    if (!(await options.registries.allows(ecr.registryId, ecr.region))) {
      throw new Error(`${ecr.host} is not an ECR registry this service resolves tags for (${options.registries.describe()})`);
    }
    const key = `${ecr.host}/${path}:${tag}`;
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.digest;
    if (cache.size > 10_000) cache.clear();
    let pending = inFlight.get(key);
    if (!pending) {
      pending = ask(key, ecr, path, tag).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
