/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core. Sign in, find a non-compliant image,
 * grant exceptions for what blocks it, watch it turn compliant, sign out. With UPDATE_SCREENSHOTS=1 it also writes
 * docs/screenshots/*.png (commit them after looking at them).
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
/** Images of a small, plausible registry for the pages (and screenshots) to show. */
const WORLD: Array<{ fixture: string; image?: string; name: string }> = [
  { fixture: "juice-shop-v10.2.0.json", name: "juice" },
  { fixture: "alpine-310.json.golden", image: "registry.example.com/platform/alpine:3.10", name: "alpine" },
  { fixture: "centos-7.json.golden", image: "registry.example.com/legacy/centos:7", name: "centos" },
  { fixture: "debian-stretch.json.golden", image: "registry.example.com/platform/debian:stretch", name: "debian" },
  { fixture: "ubuntu-1804.json.golden", image: "ghcr.io/acme/api:2.4.1", name: "ubuntu" },
  { fixture: "fluentd-gems.json.golden", image: "ghcr.io/acme/log-shipper:1.12", name: "fluentd" },
  { fixture: "misconfigurations_and_secrets.json", image: "ghcr.io/acme/payments:0.9.0", name: "payments" },
  { fixture: "sl-micro-rancher5.4.json.golden", image: "registry.example.com/platform/sl-micro:5.4", name: "slmicro" },
];

if (!fs.existsSync(CHROMIUM)) {
  test.skip(`dashboard end-to-end: SKIPPED because ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`, () => undefined);
} else {
  let app: TestApp;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let offsetMs = 0;

  const shoot = async (name: string, fullPage = true) => {
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
  };

  beforeAll(async () => {
    // A movable clock, so admission decisions can be spread over the last two weeks for the chart.
    app = await startTestApp({ clock: () => new Date(Date.now() + offsetMs) });
    const auth = { Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" };
    const digests: Record<string, string> = {};
    for (const w of WORLD) {
      const query = w.image ? `?digest=${fakeDigest(`e2e-${w.name}`)}&image=${encodeURIComponent(w.image)}&source=github-actions` : "?source=github-actions";
      const res = await app.http.post(`/v1/reports${query}`).set(auth).send(readFixture(w.fixture).toString());
      expect([200, 201]).toContain(res.status);
      digests[w.name] = res.body.images[0].image_digest;
    }
    for (let day = 13; day >= 0; day--) {
      offsetMs = -day * DAY_MS;
      for (const [i, name] of Object.keys(digests).entries()) {
        const times = 1 + ((day * 7 + i * 3) % 5);
        for (let t = 0; t < times; t++)
          await app.http.get(`/v1/images/${digests[name]}/compliance`).query({ namespace: i % 2 ? "prod" : "staging" }).set({ Authorization: auth.Authorization });
      }
    }
    offsetMs = 0;
    await app.flushDecisions();
    // A few exceptions granted through the API, one of them withdrawn, so the pages have some history to show.
    const grant = (body: Record<string, unknown>) => app.http.post("/v1/exceptions").set(auth).send(body).expect(201);
    await grant({ vulnerability_id: "CVE-2019-18224", repository: "ghcr.io/acme/*", reason: "libidn2 is not reachable from the shipper's network path (SEC-981)", expires_at: new Date(Date.now() + 5 * DAY_MS).toISOString() });
    await grant({ vulnerability_id: "CVE-2019-1549", reason: "No forking TLS servers in our images; upgrade scheduled (SEC-774)", expires_at: new Date(Date.now() + 3 * DAY_MS).toISOString() });
    const withdrawn = await grant({ vulnerability_id: "CVE-2019-1551", repository: "registry.example.com/platform/**", reason: "Granted by mistake", expires_at: new Date(Date.now() + 60 * DAY_MS).toISOString() });
    await app.http.delete(`/v1/exceptions/${withdrawn.body.id}`).set(auth).expect(200);
    if (SCREENSHOTS) fs.mkdirSync(SCREENSHOTS, { recursive: true });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1360, height: 900 },
      deviceScaleFactor: 1,
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await app?.close();
  });

  test("when a security engineer signs in, grants exceptions for what blocks an image and signs out, then the image turns compliant", async () => {
    await page.goto(`${app.service.url}/ui/`);
    await page.waitForURL(/\/ui\/login\?next=/);
    await shoot("sign-in", false);
    await page.getByLabel("API token").fill(app.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await shoot("overview");
    await page.goto(`${app.service.url}/ui/exceptions?state=all`);
    await shoot("exceptions");
    await page.goto(`${app.service.url}/ui/exceptions`);
    const activeBefore = await page.locator("table.exceptions-table tbody tr").count();
    await page.goto(`${app.service.url}/ui/images`);
    await shoot("images");

    // Find a non-compliant image from the overview's figure.
    await page.goto(`${app.service.url}/ui/`);
    await page.locator("a.stat-non_compliant").click();
    await page.waitForURL(/\/ui\/images\?status=non_compliant/);
    await page.getByRole("link", { name: "docker.io/bkimminich/juice-shop" }).click();
    await page.waitForURL(new RegExp(`/ui/images/${JUICE}`));
    expect(await page.locator(".verdict .badge").innerText()).toContain("Non-compliant");
    await page.setViewportSize({ width: 1360, height: 1500 });
    await shoot("image", false);
    await page.setViewportSize({ width: 1360, height: 900 });

    // Accept the risk of every critical vulnerability and of the private key found in the image, for this image only.
    await page.getByRole("link", { name: /Select all \d+ critical IDs/ }).click();
    const critical = page.locator('input[name="vulnerability_id"][data-severity="CRITICAL"]');
    const criticalCount = await critical.count();
    expect(criticalCount).toBeGreaterThan(0);
    for (let i = 0; i < criticalCount; i++) expect(await critical.nth(i).isChecked()).toBe(true);
    await page.locator('input[name="vulnerability_id"][value="private-key"]').check();
    await page.getByLabel("This image only").check();
    await page.getByLabel(/^Reason/).fill("Demo image, never deployed outside the training cluster (SEC-1234)");
    await page.getByLabel(/^Expires on/).fill("2099-12-31");
    await page.getByRole("button", { name: "Grant exception" }).click();
    await page.getByText(/Exception granted for \d+ vulnerabilities/).waitFor();
    expect(await page.locator(".verdict .badge").innerText()).toContain("Compliant");
    expect(await page.locator(".verdict .badge").innerText()).not.toContain("Non-compliant");
    const lookup = await app.http.get(`/v1/images/${JUICE}/compliance`).set({ Authorization: `Bearer ${app.adminToken}` });
    expect(lookup.body).toMatchObject({ is_compliant: true, status: "compliant" });

    await page.goto(`${app.service.url}/ui/exceptions`);
    expect(await page.locator("table.exceptions-table tbody tr").count()).toBe(activeBefore + criticalCount + 1);

    await page.goto(`${app.service.url}/ui/vulnerabilities/CVE-2019-18224`);
    await page.getByRole("heading", { name: /Images that have it now/ }).waitFor();
    await shoot("vulnerability");

    await page.goto(`${app.service.url}/ui/policy`);
    await page.getByLabel("HIGH").first().fill("5");
    await page.getByRole("button", { name: "Preview changes (dry run)" }).click();
    await page.getByRole("heading", { name: /Dry run: \d+ of \d+ images would change/ }).waitFor();
    await shoot("policy");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Signed out" }).waitFor();
    await page.goto(`${app.service.url}/ui/images`);
    await page.waitForURL(/\/ui\/login/);
  }, 180_000);

  test("when a page is tabbed through, then keyboard focus is visible and reaches the skip link first", async () => {
    await page.goto(`${app.service.url}/ui/login`);
    await page.getByLabel("API token").fill(app.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    // Runs in the page; typed loosely because this project compiles without the DOM library.
    const focused = await page.evaluate(() => {
      const w = globalThis as unknown as {
        document: { activeElement: { textContent: string } };
        getComputedStyle(el: unknown): { outlineStyle: string; outlineWidth: string };
      };
      const el = w.document.activeElement;
      const style = w.getComputedStyle(el);
      return { text: el.textContent, outline: style.outlineStyle, width: style.outlineWidth };
    });
    expect(focused.text).toBe("Skip to content");
    expect(focused.outline).toBe("solid");
    expect(focused.width).toBe("3px");
  }, 60_000);
}
