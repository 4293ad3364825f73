/**
 * A minimal browser for component tests: keeps the dashboard's cookies, follows nothing automatically, and reads
 * the CSRF token out of the page the way a real form submission carries it.
 */
export interface PageResponse {
  status: number;
  location: string | null;
  headers: Headers;
  text: string;
}

export class BrowserSession {
  private readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  get cookieHeader(): string {
    return [...this.cookies.entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(path: string): Promise<PageResponse> {
    const res = await fetch(this.baseUrl + path, { redirect: "manual", headers: { cookie: this.cookieHeader } });
    this.remember(res.headers);
    return { status: res.status, location: res.headers.get("location"), headers: res.headers, text: await res.text() };
  }

  async post(path: string, fields: Record<string, string | string[]>): Promise<PageResponse> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    const res = await fetch(this.baseUrl + path, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: this.cookieHeader, "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    this.remember(res.headers);
    return { status: res.status, location: res.headers.get("location"), headers: res.headers, text: await res.text() };
  }

  /** Signs in through the form, like a person; returns the final response of the POST. */
  async signIn(token: string, next?: string): Promise<PageResponse> {
    const form = await this.get(next ? `/ui/login?next=${encodeURIComponent(next)}` : "/ui/login");
    return this.post("/ui/login", { token, _csrf: csrfOf(form.text), next: next ?? "/ui/" });
  }

  /** The CSRF token the signed-in pages carry (from any page). */
  async csrf(path = "/ui/exceptions"): Promise<string> {
    return csrfOf((await this.get(path)).text);
  }
}

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF field on the page");
  return m[1]!;
}
