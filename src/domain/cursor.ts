import { badRequest } from "./errors";

/**
 * Opaque keyset cursors: where a page ended, handed to the client and checked when it comes back. A cursor is client
 * input, so every part is checked here: a hand-made cursor is the client's 400 `invalid_cursor`, and never reaches
 * PostgreSQL as, say, an out-of-range number (which PostgreSQL refuses with SQLSTATE 22003).
 */
const BIGINT_MAX = 9_223_372_036_854_775_807n;

const invalidCursor = () => badRequest("invalid_cursor", "The cursor is not one this API returned; start again without it.");

/** True for the decimal text of an ID a `bigint` keyset cursor can hold: 0 … 2^63−1, no sign, no leading junk. */
export function isBigintCursor(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= BIGINT_MAX;
}

/**
 * The cursor of a list ordered by a `bigint` row ID: `<list>:<id>`, base64url. The list's letter keeps one list's
 * cursor from being accepted by another.
 */
export function encodeIdCursor(list: string, id: string): string {
  return Buffer.from(`${list}:${id}`).toString("base64url");
}

/** The row ID in a cursor made by `encodeIdCursor(list, …)`; 400 invalid_cursor for anything else. */
export function decodeIdCursor(list: string, cursor: string): string {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const prefix = `${list}:`;
  const id = text.startsWith(prefix) ? text.slice(prefix.length) : "";
  if (!isBigintCursor(id)) throw invalidCursor();
  return id;
}

/** The cursor of a list ordered by several columns: the last row's sort key as a JSON array, base64url. */
export function encodeKeyCursor(key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The sort key in a cursor made by `encodeKeyCursor`, if `isKey` accepts it; 400 invalid_cursor otherwise. */
export function decodeKeyCursor<K extends unknown[]>(cursor: string, isKey: (value: unknown[]) => value is K): K {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(value) || !isKey(value)) throw invalidCursor();
  return value;
}
