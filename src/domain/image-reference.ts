/**
 * Image references parsed the Docker way (distribution/reference normalisation):
 * `nginx` = `docker.io/library/nginx:latest`; `registry:5000/team/app:1.2@sha256:…` keeps registry, repository,
 * tag and digest apart.
 */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

export interface ImageReference {
  registry: string;
  /** Repository path without registry, e.g. `library/nginx`. */
  path: string;
  /** Registry + path, e.g. `docker.io/library/nginx`: what `image_scans.repository` stores. */
  repository: string;
  tag: string | null;
  digest: string | null;
}

const DOCKER_HUB = "docker.io";
const MAX_REFERENCE_LENGTH = 1024;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses an image reference; returns null when it is not a valid reference. */
export function parseImageReference(input: string): ImageReference | null {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_REFERENCE_LENGTH) return null;
  let rest = input.trim();
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) return null;
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) return null;
  }
  if (rest.length === 0) return null;
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (!/^[a-zA-Z0-9.-]+(?::[0-9]+)?$/.test(registry) && !/^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/.test(registry)) return null;
  if (parts.length === 0 || !parts.every((p) => PATH_COMPONENT.test(p))) return null;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  const path = parts.join("/");
  if (tag === null && digest === null) tag = "latest";
  return { registry, path, repository: `${registry}/${path}`, tag, digest };
}

/**
 * A repository name (no tag, digest or wildcard) normalised as references are, e.g. `nginx` →
 * `docker.io/library/nginx`; null when it is not one.
 */
export function parseRepositoryName(value: string): string | null {
  if (/[@*?]/.test(value) || /:[^/]*$/.test(value)) return null;
  return parseImageReference(value)?.repository ?? null;
}

/** The canonical text of a reference, e.g. `docker.io/library/nginx:latest@sha256:…`. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
