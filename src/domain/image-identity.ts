/** One image digest a report describes, with the repository and tags it was named with. */
export interface ImageIdentity {
  imageDigest: string;
  repository: string | null;
  tags: string[];
}
