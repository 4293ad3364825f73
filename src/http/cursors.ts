/** Opaque cursors shared by the API and the dashboard: what a page's last row was, never trusted as given. */
import { badRequest } from "../domain/errors";
import { isDigest } from "../domain/image-reference";

type ImageKey = { repository: string | null; image_digest: string };

/** The images cursor: the last image of the page (repository, digest), opaque to clients. */
export function encodeImageCursor(key: ImageKey): string {
  return Buffer.from(JSON.stringify([key.repository, key.image_digest])).toString("base64url");
}

export function decodeImageCursor(cursor: string): ImageKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = null;
  }
  if (Array.isArray(value) && value.length === 2 && (value[0] === null || (typeof value[0] === "string" && value[0].length <= 512)) && isDigest(value[1]))
    return { repository: value[0] as string | null, image_digest: value[1] as string };
  throw badRequest("invalid_cursor", "The cursor is not one this API returned; start again without it.");
}
