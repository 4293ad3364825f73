import { BatchGetImageCommand, DescribeImagesCommand, PutImageCommand } from "@aws-sdk/client-ecr";
import type { Logger } from "pino";
import type { IngestResult } from "../../ingest/ingest-report";
import { awsErrorName, type EcrClients } from "./client";
import { parseEcrRepository } from "./host";
import type { EcrRegistryPolicy } from "./registries";

/** What happened to the pass tag of one image; `applied: true` also when the tag was already there. */
export interface PassTagOutcome {
  image_digest: string;
  tag: string;
  applied: boolean;
  reason?: string;
}

/** Manifest types ECR serves, so BatchGetImage returns the manifest exactly as pushed (no conversion). */
const ACCEPTED_MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/**
 * ECR_PASS_TAG: after an ingest leaves an image on an ECR host compliant, tag it in ECR (BatchGetImage, then
 * PutImage with the exact manifest and media type, so the digest does not change). Idempotent: an existing tag
 * on the same digest is success. Failures never undo the ingest: they are logged and reported in the answer.
 * The tag is never removed when a verdict later turns (that cannot be done safely): the lookup stays the truth.
 */
export class EcrPassTagger {
  constructor(
    private readonly clients: EcrClients,
    private readonly registries: EcrRegistryPolicy,
    private readonly tag: string,
    private readonly logger: Logger,
  ) {}

  /** One outcome per image of the result that lives on an ECR host. */
  async afterIngest(result: IngestResult): Promise<PassTagOutcome[]> {
    const outcomes: PassTagOutcome[] = [];
    for (const image of result.images) {
      const ecr = parseEcrRepository(image.repository);
      if (!ecr) continue;
      if (!image.is_compliant) {
        outcomes.push({ image_digest: image.image_digest, tag: this.tag, applied: false, reason: `the image is ${image.status}` });
        continue;
      }
      if (!(await this.registries.allows(ecr.registryId, ecr.region))) {
        outcomes.push({ image_digest: image.image_digest, tag: this.tag, applied: false, reason: `${ecr.host} is not a configured ECR registry (${this.registries.describe()})` });
        continue;
      }
      outcomes.push(await this.apply(image.image_digest, ecr));
    }
    return outcomes;
  }

  async apply(digest: string, ecr: { registryId: string; region: string; repositoryName: string }): Promise<PassTagOutcome> {
    const client = this.clients.forRegion(ecr.region);
    const outcome = (applied: boolean, reason?: string): PassTagOutcome => ({
      image_digest: digest,
      tag: this.tag,
      applied,
      ...(reason ? { reason } : {}),
    });
    const where = { registryId: ecr.registryId, repositoryName: ecr.repositoryName };
    try {
      const got = await client.send(
        new BatchGetImageCommand({ ...where, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: ACCEPTED_MANIFEST_TYPES }),
      );
      const image = got.images?.[0];
      if (!image?.imageManifest) {
        const failure = got.failures?.[0];
        return this.refused(outcome(false, `BatchGetImage returned no manifest (${failure?.failureCode ?? "no image"}: ${failure?.failureReason ?? ""})`.trim()));
      }
      try {
        await client.send(
          new PutImageCommand({
            ...where,
            imageManifest: image.imageManifest,
            ...(image.imageManifestMediaType ? { imageManifestMediaType: image.imageManifestMediaType } : {}),
            imageDigest: digest,
            imageTag: this.tag,
          }),
        );
        return outcome(true);
      } catch (error) {
        const name = awsErrorName(error);
        if (name === "ImageAlreadyExistsException") return outcome(true);
        if (name !== "ImageTagAlreadyExistsException") throw error;
        // An immutable repository: the tag exists and cannot move. Success only if it already names this digest.
        const current = await client.send(new DescribeImagesCommand({ ...where, imageIds: [{ imageTag: this.tag }] }));
        const taggedDigest = current.imageDetails?.[0]?.imageDigest;
        if (taggedDigest === digest) return outcome(true);
        return this.refused(
          outcome(false, `the repository's tags are immutable and ${this.tag} already names ${taggedDigest ?? "another image"}`),
        );
      }
    } catch (error) {
      return this.refused(outcome(false, `${awsErrorName(error)}: ${(error as Error).message}`));
    }
  }

  private refused(outcome: PassTagOutcome): PassTagOutcome {
    this.logger.warn({ image_digest: outcome.image_digest, tag: outcome.tag, reason: outcome.reason }, "ECR pass tag not applied");
    return outcome;
  }
}
