import { startTestApp, type TestApp } from "../support/test-app";
import { BrowserSession } from "./browser-session";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

test("when someone opens the service's root, then they are sent to the dashboard, without needing a token", async () => {
  const res = await fetch(`${app.service.url}/`, { redirect: "manual" });
  expect(res.status).toBe(302);
  expect(res.headers.get("location")).toBe("/ui/");
});

test("when a browser asks for /favicon.ico, then it gets the SVG icon every page links to, so no page logs a 404", async () => {
  const ico = await fetch(`${app.service.url}/favicon.ico`);
  expect(ico.status).toBe(200);
  expect(ico.headers.get("content-type")).toBe("image/svg+xml");
  const icon = await ico.text();
  expect(icon).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);

  const browser = new BrowserSession(app.service.url);
  const signIn = await browser.get("/ui/login");
  await browser.signIn(app.adminToken);
  const overview = await browser.get("/ui/");
  for (const page of [signIn.text, overview.text]) {
    const href = /<link rel="icon" href="([^"]+)" type="image\/svg\+xml">/.exec(page)?.[1];
    expect(href).toBe("/ui/static/favicon.svg");
    const linked = await fetch(`${app.service.url}${href}`);
    expect(linked.status).toBe(200);
    expect(await linked.text()).toBe(icon);
  }
});
