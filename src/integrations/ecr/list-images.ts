import { paginateDescribeImages } from "@aws-sdk/client-ecr";
import { ecrProblem, type EcrClients } from "./client";

export interface EcrImageSummary {
  image_digest: string;
  tags: string[];
  pushed_at: string | null;
  scan_status: string | null;
}

/** Every image of a repository (DescribeImages, every page), newest push first; what `ecr sync` walks through. */
export async function listEcrImages(
  clients: EcrClients,
  request: { repository: string; registryId?: string | undefined },
): Promise<EcrImageSummary[]> {
  const client = clients.forRegion();
  const images: EcrImageSummary[] = [];
  try {
    const pages = paginateDescribeImages(
      { client, pageSize: 1000 },
      { repositoryName: request.repository, ...(request.registryId ? { registryId: request.registryId } : {}) },
    );
    for await (const page of pages) {
      for (const d of page.imageDetails ?? []) {
        if (!d.imageDigest) continue;
        images.push({
          image_digest: d.imageDigest,
          tags: [...(d.imageTags ?? [])].sort(),
          pushed_at: d.imagePushedAt ? d.imagePushedAt.toISOString() : null,
          scan_status: d.imageScanStatus?.status ?? null,
        });
      }
    }
  } catch (error) {
    throw ecrProblem(error, `listing the images of ${request.repository}`);
  }
  return images.sort((a, b) => (b.pushed_at ?? "").localeCompare(a.pushed_at ?? "") || a.image_digest.localeCompare(b.image_digest));
}
