import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startTestApp, type TestApp } from "../support/test-app";
import { csrfOf } from "./browser-session";

/**
 * Issue 17 item 14: behind a TLS-terminating proxy the request reaches the service over plain HTTP, so the dashboard's
 * session cookie had no Secure. TRUST_PROXY says which hops' X-Forwarded-Proto to believe.
 */
async function signInCookie(app: TestApp, headers: Record<string, string>): Promise<string> {
  const form = await fetch(`${app.service.url}/ui/login`, { headers });
  const cookies = form.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
  const res = await fetch(`${app.service.url}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { ...headers, cookie: cookies, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: app.adminToken, _csrf: csrfOf(await form.text()), next: "/ui/" }),
  });
  expect(res.status).toBe(303);
  return res.headers.getSetCookie().find((c) => c.startsWith("sr_ui_session="))!;
}

describe("TRUST_PROXY", () => {
  let behindProxy: TestApp;
  let direct: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    behindProxy = await startTestApp({ env: { TRUST_PROXY: "loopback", LOG_LEVEL: "info" }, logger: createLogger("info", { write: (line: string) => void lines.push(line) }) });
    direct = await startTestApp();
  });
  afterAll(async () => {
    await behindProxy?.close();
    await direct?.close();
  });

  test("when the proxy in front (a trusted hop) says the request came over https, then the session cookie is Secure", async () => {
    const cookie = await signInCookie(behindProxy, { "X-Forwarded-Proto": "https" });
    expect(cookie).toMatch(/; Path=\/ui; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
  });

  test("when the request came over plain http through that proxy, then no Secure (the browser would drop the cookie)", async () => {
    expect(await signInCookie(behindProxy, { "X-Forwarded-Proto": "http" })).not.toMatch(/Secure/);
  });

  test("when TRUST_PROXY is unset, then X-Forwarded-Proto is not believed (any client could send it)", async () => {
    expect(await signInCookie(direct, { "X-Forwarded-Proto": "https" })).not.toMatch(/Secure/);
  });

  test("the listening log line says how lookups authenticate and which proxies are trusted, and carries no unexplained scopes count", async () => {
    const listening = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "scan-registry listening")!;
    expect(listening).toMatchObject({ url: behindProxy.service.url, database: expect.any(String), lookupAuth: "token", trustProxy: ["loopback"] });
    expect(listening).not.toHaveProperty("scopes");
  });
});

describe("TRUST_PROXY parsing", () => {
  test.each([
    [undefined, false],
    ["false", false],
    ["true", true],
    ["1", 1],
    ["loopback", ["loopback"]],
    ["10.0.0.0/8, 192.168.1.7 ,fd00::/8,uniquelocal", ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "uniquelocal"]],
  ])("TRUST_PROXY=%s is %j", (value, expected) => {
    expect(loadConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  test.each(["proxy.example.com", "10.0.0.0/33", "10.0.0.1/8/1", "yes please", "101"])("TRUST_PROXY=%s stops the start naming the variable", (value) => {
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY/);
  });
});
