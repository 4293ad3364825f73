/**
 * GET /v1/workloads and GET /v1/violations keep the pagination property (test/support/pagination-property.ts): for
 * any rows and any page size, following next_cursor returns each row exactly once, in the documented order. Rows
 * are stored straight into the tables (ties on every order column are likely: that is where keyset pages break);
 * pages are read through HTTP.
 */
import fc from "fast-check";
import { assertPagination } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";

jest.setTimeout(180_000);

let app: TestApp;
let reader: string;
const pool = () => app.database.db.pool;

beforeAll(async () => {
  app = await startTestApp();
  reader = await app.token("compliance:read");
});
afterAll(async () => app?.close());

const byNumber = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);
const compare = (a: readonly string[], b: readonly string[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
};

/** A container row: few distinct values per column, so rows share prefixes of the order key. */
const containerRow = fc.record({
  cluster: fc.constantFrom("prod", "stage"),
  namespace: fc.constantFrom("shop", "web"),
  kind: fc.constantFrom("Deployment", "Pod"),
  name: fc.constantFrom("api", "db"),
  container: fc.constantFrom("main", "side"),
  gone: fc.boolean(),
  violation: fc.constantFrom<"none" | "open" | "resolved">("none", "open", "resolved"),
});
type ContainerRow = typeof containerRow extends fc.Arbitrary<infer T> ? T : never;

/** Stores the rows as workload_containers (each its own image, so none collide) and their violations; returns IDs. */
async function store(rows: readonly ContainerRow[]): Promise<{ id: string; violationId: string | null }[]> {
  await pool().query("DELETE FROM runtime_violations");
  await pool().query("DELETE FROM workload_containers");
  const { rows: stored } = await pool().query<{ id: string; n: string }>(
    `INSERT INTO workload_containers (cluster, namespace, kind, name, container, image_digest, first_seen_at, last_seen_at, gone_at, source)
     SELECT c, ns, k, nm, ct, 'sha256:' || encode(sha256(convert_to(n::text || random()::text, 'UTF8')), 'hex'),
       now(), now(), CASE WHEN g THEN now() END, 'inventory'
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) WITH ORDINALITY AS x(c, ns, k, nm, ct, g, n)
     ORDER BY n
     RETURNING id::text AS id`,
    [rows.map((r) => r.cluster), rows.map((r) => r.namespace), rows.map((r) => r.kind), rows.map((r) => r.name), rows.map((r) => r.container), rows.map((r) => r.gone)],
  );
  const out: { id: string; violationId: string | null }[] = [];
  for (const [i, r] of rows.entries()) {
    const id = stored[i]!.id;
    let violationId: string | null = null;
    if (r.violation !== "none") {
      const resolved = r.violation === "resolved";
      const v = await pool().query<{ id: string }>(
        `INSERT INTO runtime_violations (workload_container_id, cluster, namespace, kind, name, container, image_digest, opened_at,
           opened_cause, status, resolved_at, resolved_cause, resolution)
         SELECT id, cluster, namespace, kind, name, container, image_digest, now(), 'inventory', 'non_compliant',
           CASE WHEN $2 THEN now() END, CASE WHEN $2 THEN 'inventory' END, CASE WHEN $2 THEN 'container_gone' END
         FROM workload_containers WHERE id = $1 RETURNING id::text AS id`,
        [id, resolved],
      );
      violationId = v.rows[0]!.id;
    }
    out.push({ id, violationId });
  }
  return out;
}

describe("GET /v1/workloads", () => {
  test("when following next_cursor, then every running container comes once, by cluster, namespace, kind, name, container, with or without filters", async () => {
    const byKey = new Map<string, string>();
    await assertPagination({
      rows: fc.record({
        containers: fc.array(containerRow, { maxLength: 40, size: "max" }),
        cluster: fc.constantFrom<string | undefined>(undefined, "prod"),
        namespace: fc.constantFrom<string | undefined>(undefined, "web"),
      }),
      pageSizes: fc.integer({ min: 1, max: 15 }),
      async seed({ containers, cluster, namespace }) {
        const ids = await store(containers);
        const expected = containers
          .map((c, i) => ({ ...c, id: ids[i]!.id }))
          .filter((c) => !c.gone && (cluster === undefined || c.cluster === cluster) && (namespace === undefined || c.namespace === namespace))
          .sort((a, b) => compare([a.cluster, a.namespace, a.kind, a.name, a.container], [b.cluster, b.namespace, b.kind, b.name, b.container]) || byNumber(a.id, b.id));
        byKey.clear();
        const { rows } = await pool().query<{ id: string; image_digest: string }>("SELECT id::text AS id, image_digest FROM workload_containers");
        for (const r of rows) byKey.set(r.image_digest, r.id);
        return expected.map((c) => c.id);
      },
      async fetchPage(limit, cursor, { cluster, namespace }) {
        const res = await app.http
          .get("/v1/workloads")
          .query({ limit, ...(cluster ? { cluster } : {}), ...(namespace ? { namespace } : {}), ...(cursor ? { cursor } : {}) })
          .set({ Authorization: `Bearer ${reader}` });
        expect(res.status).toBe(200);
        // The API does not show row IDs: the digest (unique per row here) tells which row an item is.
        return { keys: res.body.items.map((i: { image_digest: string }) => byKey.get(i.image_digest)!), next: res.body.next_cursor };
      },
    });
  });
});

describe("GET /v1/violations", () => {
  test("when following next_cursor, then every violation in the state comes once, newest first, with or without a cluster filter", async () => {
    await assertPagination({
      rows: fc.record({
        containers: fc.array(containerRow, { maxLength: 40, size: "max" }),
        state: fc.constantFrom<"open" | "resolved">("open", "resolved"),
        cluster: fc.constantFrom<string | undefined>(undefined, "stage"),
      }),
      pageSizes: fc.integer({ min: 1, max: 15 }),
      async seed({ containers, state, cluster }) {
        const ids = await store(containers);
        return containers
          .map((c, i) => ({ ...c, violationId: ids[i]!.violationId }))
          .filter((c) => c.violation === state && (cluster === undefined || c.cluster === cluster))
          .map((c) => c.violationId!)
          .sort(byNumber)
          .reverse();
      },
      async fetchPage(limit, cursor, { state, cluster }) {
        const res = await app.http
          .get("/v1/violations")
          .query({ limit, state, ...(cluster ? { cluster } : {}), ...(cursor ? { cursor } : {}) })
          .set({ Authorization: `Bearer ${reader}` });
        expect(res.status).toBe(200);
        return { keys: res.body.items.map((i: { id: string }) => i.id), next: res.body.next_cursor };
      },
    });
  });
});
