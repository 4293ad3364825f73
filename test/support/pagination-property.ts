/**
 * The pagination property every list must keep, for any list (API or dashboard, cursor or offset):
 * for any stored rows and any page size, following the pages from the first returns each row exactly once, in the
 * documented order, with full pages until the last.
 *
 * A list test provides three things:
 *   - `rows`: a fast-check arbitrary of what to store for one run: the rows (their sort keys, filter values: make
 *     ties likely, they are where pages duplicate or skip rows), and the filter to list them with if any. Give
 *     arrays `size: "max"` with their `maxLength`: fast-check's default size keeps them under ~10 rows, one page;
 *   - `seed(rows)`: replace what the list shows with exactly these rows and return the keys the list must show,
 *     in the documented order, computed by the test itself (an oracle independent of the SQL);
 *   - `fetchPage(pageSize, cursor, rows)`: one page through the real surface (HTTP, the dashboard's HTML) → its
 *     items' keys and the next cursor (null on the last page). The cursor is whatever the list uses: an opaque
 *     string, a page number, an `after=` value taken from a link. `rows` is the run's value (to read its filter).
 *
 * ```ts
 * await assertPagination({
 *   rows: fc.uniqueArray(fc.integer({ min: 1, max: 1e6 }), { maxLength: 40, size: "max" }),
 *   pageSizes: fc.integer({ min: 1, max: 15 }),
 *   seed: async (ids) => { await store(ids); return [...ids].sort((a, b) => b - a).map(String); },
 *   fetchPage: async (limit, cursor) => {
 *     const res = await http.get("/v1/things").query({ limit, ...(cursor ? { cursor } : {}) });
 *     return { keys: res.body.items.map((i) => i.id), next: res.body.next_cursor };
 *   },
 * });
 * ```
 */
import fc from "fast-check";

export interface FetchedPage<Cursor> {
  /** Keys of the page's items, in the order the page shows them. */
  keys: string[];
  /** The cursor of the next page; null (or undefined) on the last page. */
  next: Cursor | null | undefined;
}

export interface PaginationSpec<Rows, Cursor> {
  rows: fc.Arbitrary<Rows>;
  /** Page sizes to try; lists with a fixed page size (the dashboard's) pass `fc.constant(size)`. */
  pageSizes: fc.Arbitrary<number>;
  seed(rows: Rows): Promise<string[]>;
  fetchPage(pageSize: number, cursor: Cursor | null, rows: Rows): Promise<FetchedPage<Cursor>>;
  /** Runs of the property (fast-check's numRuns); each run seeds the database again. Default 40. */
  numRuns?: number;
  /**
   * Whether the list may end with an empty page (a cursor given when the last page happened to be full). Default
   * false: the list fetches one row more than it shows and gives a cursor only when there is more.
   */
  allowEmptyLastPage?: boolean;
  /** Extra fast-check parameters (seed, path to replay a failure, verbose). */
  parameters?: fc.Parameters<[Rows, number]>;
}

/**
 * Follows the pages from the first (cursor null) until the next cursor is null; fails when the list gives more
 * pages than `maxPages` (a cursor that loops or does not advance) or a page larger than `pageSize`.
 */
export async function followPages<Cursor>(
  fetchPage: (pageSize: number, cursor: Cursor | null) => Promise<FetchedPage<Cursor>>,
  pageSize: number,
  maxPages: number,
): Promise<{ keys: string[]; pages: string[][] }> {
  const pages: string[][] = [];
  let cursor: Cursor | null = null;
  for (;;) {
    if (pages.length >= maxPages)
      throw new Error(`pagination did not end after ${maxPages} pages (page size ${pageSize}): the cursor loops or does not advance`);
    const page = await fetchPage(pageSize, cursor);
    if (page.keys.length > pageSize) throw new Error(`a page of size ${pageSize} returned ${page.keys.length} items`);
    pages.push(page.keys);
    if (page.next === null || page.next === undefined) break;
    cursor = page.next;
  }
  return { keys: pages.flat(), pages };
}

/** Asserts the property (see the file's comment); throws fast-check's report with the shrunk counterexample. */
export async function assertPagination<Rows, Cursor>(spec: PaginationSpec<Rows, Cursor>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(spec.rows, spec.pageSizes, async (rows, pageSize) => {
      const expected = await spec.seed(rows);
      const fullPages = Math.max(1, Math.ceil(expected.length / pageSize));
      const { keys, pages } = await followPages<Cursor>((size, cursor) => spec.fetchPage(size, cursor, rows), pageSize, fullPages + 1);
      const duplicates = keys.filter((k, i) => keys.indexOf(k) !== i && expected.filter((e) => e === k).length < 2);
      if (duplicates.length > 0) throw new Error(`rows returned more than once: ${[...new Set(duplicates)].slice(0, 5).join(", ")}`);
      const missing = expected.filter((k) => !keys.includes(k));
      if (missing.length > 0) throw new Error(`rows never returned: ${missing.slice(0, 5).join(", ")} (${missing.length} of ${expected.length})`);
      if (JSON.stringify(keys) !== JSON.stringify(expected))
        throw new Error(`rows out of the documented order:\n  expected ${JSON.stringify(expected)}\n  got      ${JSON.stringify(keys)}`);
      const shortPage = pages.slice(0, -1).findIndex((p) => p.length !== pageSize);
      if (shortPage !== -1) throw new Error(`page ${shortPage + 1} of ${pages.length} has ${pages[shortPage]!.length} items, not ${pageSize}`);
      if (!spec.allowEmptyLastPage && pages.length > fullPages)
        throw new Error(`an empty last page: ${expected.length} rows in pages of ${pageSize} took ${pages.length} pages`);
    }),
    { numRuns: spec.numRuns ?? 40, ...spec.parameters },
  );
}

/** Hex digits for fake sha256 digests (`sha256:` + 64 of them) in row arbitraries. */
export const digestArbitrary: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 })
  .map((hex) => `sha256:${hex}`);
