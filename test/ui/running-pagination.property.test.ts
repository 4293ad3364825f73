/**
 * /ui/running's container list keeps the pagination property (test/support/pagination-property.ts): following its
 * "Next page" links from the first page shows each running container exactly once, by cluster, namespace, kind,
 * name and container, at the dashboard's page size (100), with and without a cluster filter. Rows are stored
 * straight into workload_containers (many ties on the order columns); pages are read as a signed-in browser does.
 */
import fc from "fast-check";
import { assertPagination } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession } from "./browser-session";

jest.setTimeout(180_000);

let app: TestApp;
let browser: BrowserSession;
const pool = () => app.database.db.pool;

beforeAll(async () => {
  app = await startTestApp();
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app?.close());

const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");

test("/ui/running: following Next page shows every running container once, in cluster/namespace/workload/container order", async () => {
  const row = fc.record({
    cluster: fc.constantFrom("prod", "stage"),
    namespace: fc.constantFrom("shop", "web"),
    kind: fc.constantFrom("Deployment", "Pod"),
    name: fc.constantFrom("api", "db", "web"),
    container: fc.constantFrom("main", "side"),
    gone: fc.boolean(),
  });
  await assertPagination({
    rows: fc.record({ containers: fc.array(row, { minLength: 90, maxLength: 260, size: "max" }), cluster: fc.constantFrom<string | undefined>(undefined, "prod") }),
    pageSizes: fc.constant(100),
    numRuns: 8,
    async seed({ containers, cluster }) {
      await pool().query("DELETE FROM runtime_violations");
      await pool().query("DELETE FROM workload_containers");
      const { rows } = await pool().query<{ id: string; image_digest: string }>(
        `INSERT INTO workload_containers (cluster, namespace, kind, name, container, image_digest, first_seen_at, last_seen_at, gone_at, source)
         SELECT c, ns, k, nm, ct, 'sha256:' || encode(sha256(convert_to(n::text || random()::text, 'UTF8')), 'hex'), now(), now(),
           CASE WHEN g THEN now() END, 'inventory'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) WITH ORDINALITY AS x(c, ns, k, nm, ct, g, n)
         ORDER BY n RETURNING id::text AS id, image_digest`,
        [containers.map((r) => r.cluster), containers.map((r) => r.namespace), containers.map((r) => r.kind), containers.map((r) => r.name), containers.map((r) => r.container), containers.map((r) => r.gone)],
      );
      const key = (c: (typeof containers)[number]) => [c.cluster, c.namespace, c.kind, c.name, c.container].join("\u0000");
      return containers
        .map((c, i) => ({ ...c, id: BigInt(rows[i]!.id), digest: rows[i]!.image_digest }))
        .filter((c) => !c.gone && (cluster === undefined || c.cluster === cluster))
        .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : 1))
        .map((c) => c.digest);
    },
    async fetchPage(_size, cursor: string | null, { cluster }) {
      const res = await browser.get(cursor ?? (cluster ? `/ui/running?cluster=${cluster}` : "/ui/running"));
      expect(res.status).toBe(200);
      const table = /<table class="table running-table">([\s\S]*?)<\/table>/.exec(res.text)?.[1] ?? "";
      const keys = [...table.matchAll(/<code class="digest" title="(sha256:[0-9a-f]{64})">/g)].map((m) => m[1]!);
      const next = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(res.text);
      return { keys, next: next ? unescape(next[1]!).replace(/#.*$/, "") : null };
    },
  });
});
