/**
 * COPY … FROM STDIN for bulk inserts (findings). Raw SQL: COPY is the fastest way PostgreSQL offers to store many
 * rows, and Prisma Client has no COPY.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ClientBase } from "pg";
import { from as copyFrom } from "pg-copy-streams";

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPED = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One field in COPY's text format: \N for NULL; backslash, tab, newline and carriage return escaped. */
function copyField(value: string | null): string {
  if (value === null) return "\\N";
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPED, (c) => ESCAPES[c]!) : value;
}

/** One row in COPY's text format, newline included. */
export function copyLine(fields: ReadonlyArray<string | null>): string {
  let line = copyField(fields[0] ?? null);
  for (let i = 1; i < fields.length; i++) line += "\t" + copyField(fields[i] ?? null);
  return line + "\n";
}

const ROWS_PER_CHUNK = 1000;

/**
 * COPY … FROM STDIN of `rows` on `client` (inside the caller's transaction), serialised a thousand rows at a time
 * so PostgreSQL stores the first rows while the next are being written. Values must be free of U+0000, which
 * PostgreSQL text cannot hold (ingest sanitises reports first).
 */
export async function copyRows<T>(
  client: ClientBase,
  table: string,
  columns: readonly string[],
  rows: readonly T[],
  toFields: (row: T) => ReadonlyArray<string | null>,
): Promise<void> {
  function* chunks(): Generator<string> {
    for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) {
      let text = "";
      const end = Math.min(rows.length, i + ROWS_PER_CHUNK);
      for (let j = i; j < end; j++) text += copyLine(toFields(rows[j]!));
      yield text;
    }
  }
  await pipeline(Readable.from(chunks(), { objectMode: false }), client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`)));
}
