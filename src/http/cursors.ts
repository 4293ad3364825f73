/** Opaque cursors shared by the API and the dashboard: what a page's last row was, never trusted as given. */
import { decodeKeyCursor, encodeKeyCursor } from "../domain/cursor";
import { isDigest } from "../domain/image-reference";

type ImageKey = { repository: string | null; image_digest: string };

/** The images cursor: the last image of the page (repository, digest), opaque to clients. */
export function encodeImageCursor(key: ImageKey): string {
  return encodeKeyCursor([key.repository, key.image_digest]);
}

const isImageKey = (value: unknown[]): value is [string | null, string] =>
  value.length === 2 && (value[0] === null || (typeof value[0] === "string" && value[0].length <= 512)) && typeof value[1] === "string" && isDigest(value[1]);

export function decodeImageCursor(cursor: string): ImageKey {
  const [repository, image_digest] = decodeKeyCursor(cursor, isImageKey);
  return { repository, image_digest };
}
