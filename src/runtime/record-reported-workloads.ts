/**
 * Where a report says its image runs (Trivy Operator's workload labels): recorded as running in the uploader's
 * cluster, in the report's transaction. Not a snapshot: nothing else is marked gone. The violations of the image
 * follow at once (cause inventory), so a non-compliant image the operator finds running opens one.
 */
import { upsertObservedContainers } from "../db/inventory-repository";
import type { Queryable } from "../db/queryable";
import type { ImageIdentity } from "../domain/image-identity";
import { DEFAULT_CLUSTER, type ContainerObservation, type WorkloadContainerRef } from "../domain/workload";
import { reconcileViolations } from "./reconcile-violations";

export interface ReportedWorkloads {
  /** The cluster the report came from (?cluster= of the webhook or upload); default "default". */
  cluster?: string | undefined;
  runsIn: readonly WorkloadContainerRef[];
  /** The images the report describes (its digests). */
  images: readonly ImageIdentity[];
  /** The image reference the report names (e.g. docker.io/library/nginx:alpine), if any. */
  imageRef: string | null;
  now: Date;
}

export async function recordReportedWorkloads(tx: Queryable, reported: ReportedWorkloads): Promise<void> {
  const observations: ContainerObservation[] = reported.images.flatMap((image) =>
    reported.runsIn.map((w) => ({
      ...w,
      containerType: "regular" as const,
      imageRef: reported.imageRef,
      repository: image.repository,
      imageDigest: image.imageDigest,
      pods: null,
    })),
  );
  if (observations.length === 0) return;
  await upsertObservedContainers(tx, reported.cluster ?? DEFAULT_CLUSTER, observations, "trivy-operator", reported.now);
  await reconcileViolations(tx, { digests: reported.images.map((i) => i.imageDigest) }, "inventory", reported.now);
}
