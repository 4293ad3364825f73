import type { Logger } from "pino";
import type { TagResolver } from "../../lookup/lookup-compliance";
import { EcrClients } from "./client";
import { EcrPassTagger } from "./pass-tag";
import { ecrTagResolver } from "./tag-resolver";

export { importEcrImage, type EcrImportRequest, type EcrImportResult } from "./import-image";
export { parseEcrEvents, type EcrEventImage } from "./events";
export { listEcrImages, type EcrImageSummary } from "./list-images";
export type { PassTagOutcome } from "./pass-tag";

/** What the service holds for ECR: clients per region, the optional pass-tag writer, the lookup's tag resolver. */
export interface EcrIntegration {
  clients: EcrClients;
  passTagger: EcrPassTagger | null;
  tagResolver: TagResolver;
}

export function createEcrIntegration(options: { passTag: string | undefined; logger: Logger }): EcrIntegration {
  const clients = new EcrClients();
  return {
    clients,
    passTagger: options.passTag ? new EcrPassTagger(clients, options.passTag, options.logger) : null,
    tagResolver: ecrTagResolver({ clients, logger: options.logger }),
  };
}
