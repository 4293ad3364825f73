/**
 * ECR registry hosts: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`. The account is the registryId that
 * every ECR call takes, the region picks the endpoint.
 */
const ECR_HOST = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?$/;

export interface EcrRegistry {
  registryId: string;
  region: string;
  host: string;
}

export function parseEcrHost(host: string): EcrRegistry | null {
  const m = ECR_HOST.exec(host.toLowerCase());
  return m ? { registryId: m[1]!, region: m[3]!, host: host.toLowerCase() } : null;
}

export function ecrHost(registryId: string, region: string): string {
  return `${registryId}.dkr.ecr.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

/** `<host>/<repository path>` → registry and repository name, or null when the repository is not on ECR. */
export function parseEcrRepository(repository: string | null): (EcrRegistry & { repositoryName: string }) | null {
  if (!repository) return null;
  const slash = repository.indexOf("/");
  if (slash < 0) return null;
  const registry = parseEcrHost(repository.slice(0, slash));
  return registry ? { ...registry, repositoryName: repository.slice(slash + 1) } : null;
}
