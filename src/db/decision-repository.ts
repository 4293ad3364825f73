/**
 * The admission decision log (table admission_decisions). Raw SQL: decisions are written off the lookup path in
 * batches of up to 5,000 with one INSERT … SELECT FROM unnest, pruned with one DELETE, and read newest first with
 * an opaque keyset cursor; one row type serves the API and the dashboard.
 */
import { decodeIdCursor, encodeIdCursor } from "../domain/cursor";
import type { Queryable } from "./queryable";

/** An answered lookup, as the lookup records it. */
export interface AdmissionDecisionRecord {
  decidedAt: Date;
  imageDigest: string | null;
  imageRef: string | null;
  namespace: string | null;
  isCompliant: boolean;
  status: string;
  reason: string | null;
  policyVersion: number | null;
  tokenId: string | null;
  tokenName: string | null;
}

/** U+0000 and lone surrogates: neither can be stored in PostgreSQL text. */
const NOT_WELL_FORMED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Free text from requests is cut to this many characters. */
const MAX_TEXT = 1024;

/** Writes a batch of decisions with one statement. */
export async function insertDecisions(q: Queryable, batch: readonly AdmissionDecisionRecord[]): Promise<void> {
  // Free text comes from the request (?namespace=, ?image=): PostgreSQL text cannot hold U+0000, and one such
  // row would fail this batch on every retry, so the log would stop recording.
  // A lone surrogate would reach the JSON below as a \ud800 escape, which PostgreSQL refuses: made U+FFFD, as the
  // UTF-8 encoder of a text parameter would.
  const cut = (s: string | null) => (s === null ? null : s.slice(0, MAX_TEXT).replace(NOT_WELL_FORMED, "\uFFFD"));
  // One JSON parameter (JSON.stringify is native): ten array parameters cost node-postgres a JavaScript escape of
  // every element and a date formatting of every timestamp, which showed in the lookup profile.
  await q.query(
    `INSERT INTO admission_decisions (decided_at, image_digest, image_ref, namespace, is_compliant, status, reason,
       policy_version, token_id, token_name)
     SELECT to_timestamp(x.t / 1000.0), x.d, x.r, x.n, x.c, x.s, x.why, x.v, x.k, x.kn
     FROM json_to_recordset($1::json) AS x(t double precision, d text, r text, n text, c boolean, s text, why text, v integer, k uuid, kn text)`,
    [
      JSON.stringify(
        batch.map((d) => ({
          t: d.decidedAt.getTime(),
          d: d.imageDigest,
          r: cut(d.imageRef),
          n: cut(d.namespace),
          c: d.isCompliant,
          s: d.status,
          why: cut(d.reason),
          v: d.policyVersion,
          k: d.tokenId,
          kn: cut(d.tokenName),
        })),
      ),
    ],
  );
}

/** Deletes decisions older than the retention; returns how many. */
export async function pruneDecisions(q: Queryable, retentionDays: number, now: Date): Promise<number> {
  const { rowCount } = await q.query("DELETE FROM admission_decisions WHERE decided_at < $1::timestamptz - make_interval(days => $2)", [now, retentionDays]);
  return rowCount ?? 0;
}

export interface DecisionFilter {
  imageDigest?: string | undefined;
  isCompliant?: boolean | undefined;
  namespace?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** An admission_decisions row as the API and the dashboard read it. */
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

const DECISION_COLUMNS = `id::text AS id, decided_at, image_digest, image_ref, namespace, is_compliant, status, reason, policy_version,
  token_id::text AS token_id, token_name`;

/** The decisions matching a filter, newest first, without paging: what the dashboard's export reads through a cursor. */
export function decisionsQuery(filter: Omit<DecisionFilter, "limit" | "cursor">): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT ${DECISION_COLUMNS} FROM admission_decisions
     WHERE ($1::text IS NULL OR image_digest = $1)
       AND ($2::boolean IS NULL OR is_compliant = $2)
       AND ($3::text IS NULL OR namespace = $3)
       AND ($4::timestamptz IS NULL OR decided_at >= $4)
       AND ($5::timestamptz IS NULL OR decided_at < $5)
     ORDER BY admission_decisions.id DESC`,
    params: [filter.imageDigest ?? null, filter.isCompliant ?? null, filter.namespace ?? null, filter.since ?? null, filter.until ?? null],
  };
}

/**
 * One page of the admission decision log, newest first (in the order the decisions were recorded). The ORDER BY
 * names the table's column: a bare `id` would be the text alias of the select list, and text order ("9" > "10")
 * against the numeric cursor skipped rows.
 */
export async function listDecisions(q: Queryable, filter: DecisionFilter): Promise<{ items: DecisionRow[]; nextCursor: string | null }> {
  const { rows } = await q.query<DecisionRow>(
    `SELECT ${DECISION_COLUMNS}
     FROM admission_decisions
     WHERE ($1::bigint IS NULL OR id < $1)
       AND ($2::text IS NULL OR image_digest = $2)
       AND ($3::boolean IS NULL OR is_compliant = $3)
       AND ($4::text IS NULL OR namespace = $4)
       AND ($5::timestamptz IS NULL OR decided_at >= $5)
       AND ($6::timestamptz IS NULL OR decided_at < $6)
     ORDER BY admission_decisions.id DESC LIMIT $7`,
    [
      filter.cursor === undefined ? null : decodeIdCursor("d", filter.cursor),
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
  return { items, nextCursor: more ? encodeIdCursor("d", items[items.length - 1]!.id) : null };
}

/** The latest decisions about one image, newest first (the admission_decisions (image_digest, decided_at) index). */
export async function listLatestImageDecisions(q: Queryable, digest: string, limit = 20): Promise<DecisionRow[]> {
  const { rows } = await q.query<DecisionRow>(
    `SELECT ${DECISION_COLUMNS} FROM admission_decisions WHERE image_digest = $1 ORDER BY decided_at DESC LIMIT $2`,
    [digest, limit],
  );
  return rows;
}
