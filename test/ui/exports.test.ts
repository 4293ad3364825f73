/**
 * The dashboard's exports (issue 18 item 4): CSV and JSON of the images list, an image's findings, the fleet
 * vulnerability list and the decision log, honouring the page's filters and sort, read through a cursor past one
 * batch; and the decision log's pages keep the pagination property.
 */
import fc from "fast-check";
import { readFixture } from "../support/fixtures";
import { assertPagination } from "../support/pagination-property";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { BrowserSession } from "./browser-session";

jest.setTimeout(180_000);

let app: TestApp;
let browser: BrowserSession;
const pool = () => app.database.db.pool;
const FLUENTD = fakeDigest("export-fluentd");
const ALPINE = fakeDigest("export-alpine");

const upload = (query: string, body: Buffer) =>
  app.http.post(`/v1/reports${query}`).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body.toString());

beforeAll(async () => {
  app = await startTestApp();
  await upload(`?digest=${FLUENTD}&image=registry.example.com/ops/fluentd:1.0`, readFixture("fluentd-gems.json.golden")).expect(201);
  await upload(`?digest=${ALPINE}&image=registry.example.com/base/alpine:3.10`, readFixture("alpine-310.json.golden")).expect(201);
  browser = new BrowserSession(app.service.url);
  await browser.signIn(app.adminToken);
});
afterAll(async () => app.close());

async function download(path: string): Promise<{ status: number; type: string | null; disposition: string | null; text: string }> {
  const res = await fetch(app.service.url + path, { headers: { cookie: browser.cookieHeader } });
  return { status: res.status, type: res.headers.get("content-type"), disposition: res.headers.get("content-disposition"), text: await res.text() };
}
/** Parses the exports' CSV (RFC 4180, as csv.ts writes it). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += c;
  }
  return rows;
}
const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");

test("when an image's findings are exported, then CSV and JSON hold every finding the table's filters match, in its order, with CVSS and target", async () => {
  const { rows } = await pool().query<{ id: string; target: string | null }>(
    `SELECT f.vulnerability_id AS id, f.target FROM current_findings f WHERE f.image_digest = $1 AND f.kind = 'vulnerability'
     ORDER BY f.vulnerability_id, f.pkg_name NULLS LAST, f.installed_version NULLS LAST, f.target NULLS LAST, f.finding_id`,
    [FLUENTD],
  );
  expect(rows.length).toBeGreaterThan(1);
  const page = (await browser.get(`/ui/images/${FLUENTD}?kind=vulnerability&sort=id`)).text;
  expect(unescape(page)).toContain(`href="/ui/images/${FLUENTD}?kind=vulnerability&sort=id&format=csv"`);
  const csv = await download(`/ui/images/${FLUENTD}?kind=vulnerability&sort=id&format=csv`);
  expect(csv.status).toBe(200);
  expect(csv.type).toBe("text/csv; charset=utf-8");
  expect(csv.disposition).toMatch(/^attachment; filename="findings-[0-9a-f]{12}-\d{4}-\d{2}-\d{2}\.csv"$/);
  const [header, ...body] = parseCsv(csv.text);
  expect(header!.slice(0, 3)).toEqual(["vulnerability_id", "severity", "cvss_score"]);
  expect(body.map((r) => r[0])).toEqual(rows.map((r) => r.id));
  expect(body.every((r) => r[3] === "vulnerability")).toBe(true);
  expect(body.map((r) => r[header!.indexOf("target")])).toEqual(rows.map((r) => r.target ?? ""));
  const json = await download(`/ui/images/${FLUENTD}?kind=vulnerability&sort=id&format=json`);
  expect(json.type).toBe("application/json; charset=utf-8");
  const items = JSON.parse(json.text) as Array<Record<string, unknown>>;
  expect(items.map((i) => i.vulnerability_id)).toEqual(rows.map((r) => r.id));
  expect(typeof items[0]!.excepted).toBe("boolean");
  expect((await download(`/ui/images/sha256:${"0".repeat(64)}?format=csv`)).status).toBe(404);
});

test("when the images list and the fleet vulnerability list are exported as JSON, then they hold the rows their filters show, in order", async () => {
  const images = JSON.parse((await download("/ui/images?q=alpine&format=json")).text) as Array<{ image_digest: string; tags: string[] }>;
  expect(images.map((i) => i.image_digest)).toEqual([ALPINE]);
  expect(images[0]!.tags).toEqual(["3.10"]);
  const page = (await browser.get("/ui/vulnerabilities?severity=HIGH&sort=id&order=asc")).text;
  expect(unescape(page)).toContain(`href="/ui/vulnerabilities?severity=HIGH&sort=id&order=asc&format=json"`);
  const shown = [...page.matchAll(/<th scope="row"><a href="\/ui\/vulnerabilities\/([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));
  const vulns = JSON.parse((await download("/ui/vulnerabilities?severity=HIGH&sort=id&order=asc&format=json")).text) as Array<{ vulnerability_id: string; severity: string; images: number }>;
  expect(vulns.map((v) => v.vulnerability_id).slice(0, shown.length)).toEqual(shown);
  expect(vulns.every((v) => v.severity === "HIGH" && v.images >= 1)).toBe(true);
  const csv = parseCsv((await download("/ui/vulnerabilities?severity=HIGH&sort=id&order=asc&format=csv")).text);
  expect(csv.slice(1).map((r) => r[0])).toEqual(vulns.map((v) => v.vulnerability_id));
  // An empty result is an empty array, still valid JSON.
  expect(JSON.parse((await download("/ui/vulnerabilities?q=no-such-thing&format=json")).text)).toEqual([]);
});

test("when the decision log is exported, then every matching decision is written, past one cursor batch, newest first", async () => {
  await pool().query(
    `INSERT INTO admission_decisions (decided_at, image_digest, image_ref, namespace, is_compliant, status)
     SELECT now() - make_interval(secs => g), $1, 'registry.example.com/base/alpine:3.10', CASE WHEN g % 3 = 0 THEN 'prod' ELSE 'dev' END,
       g % 2 = 0, CASE WHEN g % 2 = 0 THEN 'compliant' ELSE 'non_compliant' END
     FROM generate_series(1, 1234) AS g`,
    [ALPINE],
  );
  const all = parseCsv((await download("/ui/decisions?format=csv")).text);
  expect(all[0]).toEqual(["id", "decided_at", "image_digest", "image_ref", "namespace", "is_compliant", "status", "reason", "policy_version", "token_name"]);
  expect(all.length - 1).toBe(1234);
  const ids = all.slice(1).map((r) => Number(r[0]));
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
  const denied = JSON.parse((await download("/ui/decisions?answer=denied&namespace=prod&format=json")).text) as Array<{ is_compliant: boolean; namespace: string }>;
  const { rows } = await pool().query("SELECT count(*)::int AS n FROM admission_decisions WHERE NOT is_compliant AND namespace = 'prod'");
  expect(denied.length).toBe(rows[0].n);
  expect(denied.every((d) => d.is_compliant === false && d.namespace === "prod")).toBe(true);
  const page = (await browser.get("/ui/decisions?answer=denied&namespace=prod")).text;
  expect(unescape(page)).toContain(`href="/ui/decisions?answer=denied&namespace=prod&format=csv"`);
  expect((await browser.get(`/ui/images/${ALPINE}`)).text).toContain(`href="/ui/decisions?digest=${ALPINE.replace(":", "%3A")}"`);
});

test("/ui/decisions: following Next page shows every decision once, newest first, for any filter", async () => {
  type D = { digest: string; compliant: boolean; ns: string };
  await assertPagination({
    rows: fc.record({
      decisions: fc.array(fc.record({ digest: fc.constantFrom(FLUENTD, ALPINE), compliant: fc.boolean(), ns: fc.constantFrom("a", "b") }), { maxLength: 230, size: "max" }),
      answer: fc.constantFrom<string | undefined>(undefined, "allowed", "denied"),
      ns: fc.constantFrom<string | undefined>(undefined, "a"),
    }),
    pageSizes: fc.constant(100),
    numRuns: 10,
    async seed({ decisions, answer, ns }) {
      await pool().query("DELETE FROM admission_decisions");
      const { rows } = await pool().query<{ id: string }>(
        `INSERT INTO admission_decisions (decided_at, image_digest, namespace, is_compliant, status)
         SELECT now(), d, n, c, CASE WHEN c THEN 'compliant' ELSE 'non_compliant' END FROM unnest($1::text[], $2::text[], $3::bool[]) AS x(d, n, c)
         RETURNING id::text`,
        [decisions.map((d: D) => d.digest), decisions.map((d: D) => d.ns), decisions.map((d: D) => d.compliant)],
      );
      return rows
        .map((r, i) => ({ id: r.id, d: decisions[i]! }))
        .filter(({ d }) => (answer === undefined || d.compliant === (answer === "allowed")) && (ns === undefined || d.ns === ns))
        .sort((a, b) => Number(b.id) - Number(a.id))
        .map((x) => x.id);
    },
    async fetchPage(_size, cursor: string | null, { answer, ns }) {
      const query = new URLSearchParams({ ...(answer ? { answer } : {}), ...(ns ? { namespace: ns } : {}) }).toString();
      const text = (await browser.get(cursor ?? `/ui/decisions${query ? `?${query}` : ""}`)).text;
      const m = /<a class="button secondary" href="([^"]+)" rel="next">/.exec(text);
      return { keys: [...text.matchAll(/<tr data-id="(\d+)">/g)].map((x) => x[1]!), next: m ? unescape(m[1]!) : null };
    },
  });
});
