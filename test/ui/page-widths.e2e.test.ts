/**
 * Every dashboard page measured in Debian's Chromium (playwright-core) at 1366 px and 420 px wide (issue 18 item 6):
 * - neither width scrolls the page sideways;
 * - at 1366 px no table is wider than its container and no card's content overflows the card;
 * - at 420 px a table wider than the screen scrolls inside its own container (.table-wrap, overflow-x auto) only.
 * With UPDATE_SCREENSHOTS=1 it writes docs/screenshots/<page>.png (1366 px) and <page>-420.png for the pages this
 * issue added, beside the ones dashboard.e2e.test.ts writes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { readFixture, readFixtureJson } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.resolve(__dirname, "../../docs/screenshots") : null;
const DAY_MS = 86_400_000;
const JUICE = (readFixtureJson("juice-shop-v10.2.0.json").Metadata.RepoDigests[0] as string).split("@")[1]!;
const WORLD: Array<{ fixture: string; image?: string; name: string }> = [
  { fixture: "juice-shop-v10.2.0.json", name: "juice" },
  { fixture: "alpine-310.json.golden", image: "registry.example.com/platform/alpine:3.10", name: "alpine" },
  { fixture: "centos-7.json.golden", image: "registry.example.com/legacy/centos:7", name: "centos" },
  { fixture: "debian-stretch.json.golden", image: "registry.example.com/platform/debian:stretch", name: "debian" },
  { fixture: "fluentd-gems.json.golden", image: "ghcr.io/acme/log-shipper:1.12", name: "fluentd" },
  { fixture: "misconfigurations_and_secrets.json", image: "ghcr.io/acme/payments:0.9.0", name: "payments" },
];

interface Measure {
  pageOverflow: number;
  offenders: string[];
}

if (!fs.existsSync(CHROMIUM)) {
  test.skip(`page widths: SKIPPED because ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`, () => undefined);
} else {
  let app: TestApp;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const pages: Array<{ name: string; path: string; shot?: boolean }> = [];

  beforeAll(async () => {
    app = await startTestApp();
    const auth = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
    const digests: Record<string, string> = {};
    for (const w of WORLD) {
      const query = w.image ? `?digest=${fakeDigest(`widths-${w.name}`)}&image=${encodeURIComponent(w.image)}&source=github-actions` : "?source=github-actions";
      const res = await app.http.post(`/v1/reports${query}`).set(auth).send(readFixture(w.fixture).toString());
      expect([200, 201]).toContain(res.status);
      digests[w.name] = res.body.images[0].image_digest;
    }
    for (const [i, d] of Object.values(digests).entries())
      await app.http.get(`/v1/images/${d}/compliance`).query({ namespace: i % 2 ? "prod" : "a-rather-long-namespace-name-for-staging" }).set({ Authorization: auth.Authorization });
    await app.flushDecisions();
    const grant = (body: Record<string, unknown>) => app.http.post("/v1/exceptions").set(auth).send(body).expect(201);
    await grant({ vulnerability_id: "CVE-2019-18224", repository: "ghcr.io/acme/*", reason: "libidn2 is not reachable from the shipper's network path (SEC-981)", expires_at: new Date(Date.now() + 5 * DAY_MS).toISOString() });
    await grant({ vulnerability_id: "CVE-2019-18224", image_digest: digests.fluentd, reason: "Image-scoped acceptance with a long reason that wraps over several lines in the table cell", expires_at: new Date(Date.now() + 9 * DAY_MS).toISOString() });
    await app.database.db.pool.query(
      `INSERT INTO workload_containers (cluster, namespace, kind, name, container, image_digest, image_ref, first_seen_at, last_seen_at, source)
       VALUES ('prod-eu-west-1', 'payments', 'Deployment', 'payments-api', 'app', $1, 'ghcr.io/acme/payments:0.9.0', now(), now(), 'inventory'),
              ('prod-eu-west-1', 'logging', 'DaemonSet', 'log-shipper', 'fluentd', $2, 'ghcr.io/acme/log-shipper:1.12', now(), now(), 'inventory')`,
      [digests.payments, digests.fluentd],
    );
    await app.database.db.pool.query(
      `INSERT INTO daily_snapshots (day, taken_at, images, compliant, non_compliant, stale, not_scanned, critical, high, medium, low, unknown, secrets, misconfigurations, open_violations)
       SELECT d::date, d, 6, 2 + g % 2, 4 - g % 2, 0, 0, 40 + g, 120 + 2 * g, 200, 90, 0, 1, 3, g % 3
       FROM generate_series(1, 40) AS g, LATERAL (SELECT date_trunc('day', now()) - make_interval(days => g) AS d) x ON CONFLICT DO NOTHING`,
    );
    pages.push(
      { name: "overview", path: "/ui/" },
      { name: "images", path: "/ui/images" },
      { name: "repositories", path: "/ui/repositories", shot: true },
      { name: "vulnerabilities", path: "/ui/vulnerabilities", shot: true },
      { name: "vulnerability", path: "/ui/vulnerabilities/CVE-2019-18224" },
      { name: "image", path: `/ui/images/${JUICE}` },
      { name: "image-fluentd", path: `/ui/images/${digests.fluentd}` },
      { name: "policy", path: "/ui/policy" },
      { name: "exceptions", path: "/ui/exceptions?state=all" },
      { name: "decisions", path: "/ui/decisions", shot: true },
      { name: "incidents", path: "/ui/incidents" },
      { name: "running", path: "/ui/running" },
      { name: "notifications", path: "/ui/settings/notifications" },
      { name: "not-found", path: "/ui/no-such-page" },
    );
    if (SCREENSHOTS) fs.mkdirSync(SCREENSHOTS, { recursive: true });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1366, height: 900 },
      deviceScaleFactor: 1,
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${app.service.url}/ui/login`);
    await page.getByLabel("API token").fill(app.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await app?.close();
  });

  /** Runs in the page; typed loosely because this project compiles without the DOM library. */
  const measure = (desktop: boolean): Promise<Measure> =>
    page.evaluate((desktopWidth) => {
      type El = {
        tagName: string;
        className: string;
        id: string;
        scrollWidth: number;
        clientWidth: number;
        parentElement: El | null;
        closest(s: string): El | null;
        getBoundingClientRect(): { left: number; right: number; width: number };
        querySelectorAll(s: string): El[];
      };
      const w = globalThis as unknown as {
        document: { documentElement: El; querySelectorAll(s: string): El[] };
        innerWidth: number;
        getComputedStyle(el: El): { overflowX: string };
      };
      const name = (el: El) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className ? `.${String(el.className).trim().split(/\s+/).join(".")}` : ""}`;
      const where = (el: El) => {
        const section = el.closest("section");
        const h = section?.querySelectorAll("h2")[0] as unknown as { textContent?: string } | undefined;
        return `${name(el)}${h?.textContent ? ` in "${h.textContent.trim().slice(0, 40)}"` : ""}`;
      };
      const root = w.document.documentElement;
      const offenders: string[] = [];
      const scrolls = (el: El) => ["auto", "scroll"].includes(w.getComputedStyle(el).overflowX);
      for (const table of [...w.document.querySelectorAll("table")]) {
        const wrap = table.closest(".table-wrap");
        const box = table.getBoundingClientRect();
        if (desktopWidth) {
          const container = wrap ?? table.parentElement!;
          if (container.scrollWidth > container.clientWidth + 1) offenders.push(`${where(table)}: ${container.scrollWidth}px in ${container.clientWidth}px`);
        } else if (box.right > w.innerWidth + 1 || box.left < -1) {
          // Wider than the screen: only inside a container that scrolls it.
          let el: El | null = table.parentElement;
          while (el && el !== root && !scrolls(el)) el = el.parentElement;
          if (!el || el === root || !String(el.className).includes("table-wrap")) offenders.push(`${where(table)}: ${Math.round(box.width)}px, not in a scrolling .table-wrap`);
        }
      }
      if (desktopWidth)
        for (const card of [...w.document.querySelectorAll(".card")])
          if (!String(card.className).includes("table-wrap") && card.scrollWidth > card.clientWidth + 1) offenders.push(`${where(card)}: content ${card.scrollWidth}px in ${card.clientWidth}px`);
      const pageOverflow = root.scrollWidth - root.clientWidth;
      if (pageOverflow > 0) {
        // Name the outermost elements that stick out of the screen (outside any scrolling container).
        for (const el of [...w.document.querySelectorAll("body *")]) {
          if (el.getBoundingClientRect().right <= w.innerWidth + 1) continue;
          let p: El | null = el.parentElement;
          let inside = false;
          while (p && p !== root) {
            if (scrolls(p) || (p.getBoundingClientRect().right > w.innerWidth + 1 && p.tagName !== "BODY")) {
              inside = true;
              break;
            }
            p = p.parentElement;
          }
          if (!inside) offenders.push(`${where(el)} ends at ${Math.round(el.getBoundingClientRect().right)}px`);
        }
      }
      return { pageOverflow, offenders };
    }, desktop);

  for (const width of [1366, 420] as const) {
    test(`when every page is opened ${width} px wide, then ${width === 1366 ? "nothing overflows its card or the page" : "the page never scrolls sideways and tables scroll in their own container"}`, async () => {
      await page.setViewportSize({ width, height: 900 });
      const problems: string[] = [];
      for (const p of pages) {
        await page.goto(`${app.service.url}${p.path}`);
        await page.locator("main h1").first().waitFor();
        const m = await measure(width === 1366);
        if (m.pageOverflow > 0) problems.push(`${p.name}: the page scrolls ${m.pageOverflow}px sideways`);
        for (const o of m.offenders) problems.push(`${p.name}: ${o}`);
        if (SCREENSHOTS && p.shot) await page.screenshot({ path: path.join(SCREENSHOTS, `${p.name}${width === 1366 ? "" : "-420"}.png`), fullPage: width !== 1366 });
        if (SCREENSHOTS && width === 420 && (p.name === "overview" || p.name === "image")) await page.screenshot({ path: path.join(SCREENSHOTS, `${p.name}-420.png`), fullPage: false });
      }
      expect(problems).toEqual([]);
    }, 180_000);
  }
}
