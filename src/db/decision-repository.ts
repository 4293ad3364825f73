import type { Queryable } from "../db/queryable";
import { badRequest } from "../domain/errors";

export interface DecisionFilter {
  imageDigest?: string | undefined;
  isCompliant?: boolean | undefined;
  namespace?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface DecisionRow {
  id: string;
  decided_at: Date;
  image_digest: string | null;
  image_ref: string | null;
  namespace: string | null;
  is_compliant: boolean;
  status: string;
  reason: string | null;
  policy_version: number | null;
  token_id: string | null;
  token_name: string | null;
}

/** The cursor is opaque to clients: the last row's ID, so a page never repeats or skips rows that arrive meanwhile. */
function encodeCursor(id: string): string {
  return Buffer.from(`d:${id}`).toString("base64url");
}

function decodeCursor(cursor: string): string {
  const m = /^d:(\d{1,19})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) throw badRequest("invalid_cursor", "The cursor is not one this service returned; start again without it.");
  return m[1]!;
}

/** One page of the admission decision log, newest first (in the order the decisions were recorded). */
export async function listDecisions(q: Queryable, filter: DecisionFilter): Promise<{ items: DecisionRow[]; nextCursor: string | null }> {
  const { rows } = await q.query<DecisionRow>(
    `SELECT id::text AS id, decided_at, image_digest, image_ref, namespace, is_compliant, status, reason, policy_version,
       token_id::text AS token_id, token_name
     FROM admission_decisions
     WHERE ($1::bigint IS NULL OR id < $1)
       AND ($2::text IS NULL OR image_digest = $2)
       AND ($3::boolean IS NULL OR is_compliant = $3)
       AND ($4::text IS NULL OR namespace = $4)
       AND ($5::timestamptz IS NULL OR decided_at >= $5)
       AND ($6::timestamptz IS NULL OR decided_at < $6)
     ORDER BY id DESC LIMIT $7`,
    [
      filter.cursor === undefined ? null : decodeCursor(filter.cursor),
      filter.imageDigest ?? null,
      filter.isCompliant ?? null,
      filter.namespace ?? null,
      filter.since ?? null,
      filter.until ?? null,
      filter.limit + 1,
    ],
  );
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
}
