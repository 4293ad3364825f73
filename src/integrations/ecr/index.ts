import type { Logger } from "pino";
import type { TagResolver } from "../../lookup/lookup-compliance";
import { EcrClients } from "./client";
import { EcrPassTagger } from "./pass-tag";
import { EcrRegistryPolicy, type EcrRegistriesSetting } from "./registries";
import { ecrTagResolver } from "./tag-resolver";

export { importEcrImage, type EcrImportRequest, type EcrImportResult } from "./import-image";
export { assertConfiguredRegistries, parseEcrEvents, type EcrEventImage } from "./events";
export { listEcrImages, type EcrImageSummary } from "./list-images";
export type { PassTagOutcome } from "./pass-tag";
export { awsConfiguredIn, parseEcrRegistries, type EcrRegistriesSetting, type EcrRegistryPolicy } from "./registries";

/** What the service holds for ECR: clients per region, the optional pass-tag writer, the lookup's tag resolver. */
export interface EcrIntegration {
  clients: EcrClients;
  /** The registries that lookups, events and pass tags may make AWS calls for (ECR_REGISTRIES). */
  registries: EcrRegistryPolicy;
  passTagger: EcrPassTagger | null;
  tagResolver: TagResolver;
}

export function createEcrIntegration(options: {
  passTag: string | undefined;
  registries: EcrRegistriesSetting;
  /** Whether AWS's own environment configures credentials (src/integrations/ecr/registries.ts awsConfiguredIn). */
  awsConfigured: boolean;
  logger: Logger;
}): EcrIntegration {
  const clients = new EcrClients();
  const registries = new EcrRegistryPolicy({
    setting: options.registries,
    awsConfigured: options.awsConfigured,
    credentialsAccount: () => clients.credentialsAccount(),
    logger: options.logger,
  });
  return {
    clients,
    registries,
    passTagger: options.passTag ? new EcrPassTagger(clients, registries, options.passTag, options.logger) : null,
    tagResolver: ecrTagResolver({ clients, registries, logger: options.logger }),
  };
}
