import { invalid, type FieldError } from "../domain/errors";
import { isDigest, parseImageReference, type ImageReference } from "../domain/image-reference";
import type { ImageIdentity } from "../domain/image-identity";
import type { DecodedReport } from "../domain/report";
import type { ReportFormat } from "../domain/severity";

export interface UploadIdentityParams {
  digests: string[];
  image?: string | undefined;
}

/** Where each format carries the image's manifest digest, for the message that says it is missing. */
const DIGEST_FIELD: Record<ReportFormat, { field: string; why?: string }> = {
  trivy: { field: "Metadata.RepoDigests", why: "as it is for images scanned from an archive" },
  sarif: { field: "runs[0].properties.repoDigests", why: "as it is for images scanned from an archive" },
  cyclonedx: { field: "metadata.component's aquasecurity:trivy:RepoDigest property", why: "as it is for images scanned from an archive" },
  "trivy-operator": { field: "report.artifact.digest" },
  ecr: { field: "imageId.imageDigest" },
};

const DIGEST_IN_TEXT = /@(sha256:[0-9a-f]{64})$/;

/**
 * A report's digests are the union of its RepoDigests, the `digest` parameters and the digest of an `image`
 * parameter written as repo@sha256:…; tags come from RepoTags and the `image` parameter. None → 422 missing_digest.
 */
export function resolveImages(report: DecodedReport, params: UploadIdentityParams): ImageIdentity[] {
  const errors: FieldError[] = [];
  params.digests.forEach((d, i) => {
    if (!isDigest(d)) errors.push({ path: `query.digest[${i}]`, message: "must be sha256: followed by 64 lowercase hex digits" });
  });
  let imageParam: ImageReference | null = null;
  if (params.image !== undefined) {
    imageParam = parseImageReference(params.image);
    if (!imageParam) errors.push({ path: "query.image", message: "is not a valid image reference (registry/repository:tag@sha256:…)" });
  }
  if (errors.length) throw invalid("invalid_parameter", "Some query parameters are invalid.", errors);

  const tagsByRepository = new Map<string, Set<string>>();
  const addTag = (ref: ImageReference | null) => {
    if (!ref || !ref.tag) return;
    const set = tagsByRepository.get(ref.repository) ?? new Set<string>();
    set.add(ref.tag);
    tagsByRepository.set(ref.repository, set);
  };
  const tagRefs = report.repoTags.map((t) => parseImageReference(t)).filter((r): r is ImageReference => r !== null);
  tagRefs.forEach(addTag);
  // `?image=repo:tag` names a tag even when the report does not (archives scanned in CI carry no RepoTags).
  if (imageParam && !(imageParam.digest && imageParam.tag === null)) addTag(imageParam);

  const byDigest = new Map<string, { repository: string | null }>();
  const add = (digest: string, repository: string | null) => {
    const existing = byDigest.get(digest);
    if (!existing) byDigest.set(digest, { repository });
    else if (existing.repository === null) existing.repository = repository;
  };
  for (const entry of report.repoDigests) {
    if (!entry) continue;
    const ref = parseImageReference(entry);
    if (ref?.digest) add(ref.digest, ref.repository);
    else {
      const m = DIGEST_IN_TEXT.exec(entry) ?? (isDigest(entry) ? [entry, entry] : null);
      if (m) add(m[1]!, null);
    }
  }
  if (imageParam?.digest) add(imageParam.digest, imageParam.repository);
  const defaultRepository =
    imageParam?.repository ??
    [...byDigest.values()].find((v) => v.repository !== null)?.repository ??
    tagRefs[0]?.repository ??
    null;
  for (const d of params.digests) add(d, defaultRepository);

  if (byDigest.size === 0) {
    const where = DIGEST_FIELD[report.format];
    throw invalid(
      "missing_digest",
      `The report names no image manifest digest (${where.field} is empty or absent${where.why ? `, ${where.why}` : ""}). ` +
        "Pass the digest the registry reported for the pushed image: ?digest=sha256:… (repeatable) or ?image=repo@sha256:….",
      [{ path: "query.digest", message: `required when the report has no digest in ${where.field}` }],
    );
  }
  return [...byDigest.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([imageDigest, { repository }]) => ({
      imageDigest,
      repository,
      tags: repository ? [...(tagsByRepository.get(repository) ?? [])].sort() : [],
    }));
}
