/**
 * Keyset cursors that are row IDs of a PostgreSQL `bigint` column. A cursor is client input: it is checked to the
 * column's range here, so a hand-made cursor is the client's 400 and never reaches PostgreSQL as an out-of-range
 * number (which PostgreSQL refuses with SQLSTATE 22003).
 */
const BIGINT_MAX = 9_223_372_036_854_775_807n;

/** True for the decimal text of an ID a `bigint` keyset cursor can hold: 0 … 2^63−1, no sign, no leading junk. */
export function isBigintCursor(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= BIGINT_MAX;
}
