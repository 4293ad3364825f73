import type { Command } from "commander";

/** Exit codes CI can trust: 0 compliant / success, 1 non-compliant, 2 any error. */
export const EXIT = { ok: 0, nonCompliant: 1, error: 2 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

export interface CallOptions {
  /**
   * The command's flag for each query parameter (e.g. `{ digest: "--digest" }`): the API's field errors
   * (`query.digest[0]`) and its advice (`?digest=…`) are then written as the flags the user typed.
   */
  flags?: Record<string, string>;
}

/** Rewrites `query.<param>` paths and `?<param>=` / `&<param>=` mentions as the command's flags. */
function asFlags(text: string, flags: Record<string, string> | undefined): string {
  if (!flags) return text;
  return text
    .replace(/\bquery\.([a-z_]+)(?:\[(\d+)\])?/g, (all, name: string, index: string | undefined) =>
      flags[name] ? `${flags[name]}${index !== undefined ? ` (#${Number(index) + 1})` : ""}` : all,
    )
    .replace(/[?&]([a-z_]+)=/g, (all, name: string) => (flags[name] ? `${flags[name]} ` : all));
}

export interface ClientOptions {
  url: string;
  token: string | undefined;
}

/** Adds --url and --token, falling back to SCAN_REGISTRY_URL / SCAN_REGISTRY_TOKEN. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option("--url <url>", "service URL (default: $SCAN_REGISTRY_URL or http://localhost:8080)")
    .option("--token <token>", "API token (default: $SCAN_REGISTRY_TOKEN)");
}

export function clientOptions(opts: { url?: string; token?: string }): ClientOptions {
  const url = (opts.url ?? process.env.SCAN_REGISTRY_URL ?? "http://localhost:8080").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(url)) throw new CliError(`--url must start with http:// or https:// (got ${url})`);
  return { url, token: opts.token ?? process.env.SCAN_REGISTRY_TOKEN };
}

/** Why a connection failed, in plain words, by Node's error code; unknown codes are shown as they are. */
const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found (DNS lookup failed)",
  EAI_AGAIN: "host not found (DNS lookup failed, temporarily)",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  ECONNRESET: "connection reset by the server",
  UND_ERR_SOCKET: "connection closed by the server",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPROTO: "TLS handshake failed (is it an http:// service behind an https:// URL?)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate not trusted (self-signed; set NODE_EXTRA_CA_CERTS to its CA)",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS certificate not trusted (self-signed CA; set NODE_EXTRA_CA_CERTS to it)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted (unknown CA; set NODE_EXTRA_CA_CERTS to it)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "TLS certificate not trusted (unknown CA; set NODE_EXTRA_CA_CERTS to it)",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate is for another host name",
};

/** "could not connect to <url>: <reason>" for an error fetch threw before any answer. */
function connectionFailure(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  const reason = (code && CONNECT_FAILURES[code]) ?? code ?? cause?.message ?? (error as Error).message;
  return new CliError(`could not connect to ${url}: ${reason}`);
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/**
 * Calls the service. A problem+json answer becomes a CliError with its detail (and field errors), so every command
 * prints the same clear message and exits 2.
 */
export async function callApi<T = unknown>(
  client: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
  if (client.token) headers.Authorization = `Bearer ${client.token}`;
  let payload: string | Uint8Array | ReadableStream<Uint8Array> | undefined;
  if (body instanceof Uint8Array || body instanceof ReadableStream) payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] ??= "application/json";
  }
  let res: Response;
  try {
    // A streamed body (upload of a large report) needs duplex: "half" in Node's fetch.
    res = await fetch(`${client.url}${path}`, { method, headers, body: payload, ...(payload instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
  } catch (error) {
    throw connectionFailure(client.url, error);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* keep text */
  }
  if (res.status >= 400) {
    const p = parsed as { detail?: string; code?: string; errors?: Array<{ path: string; message: string }> } | null;
    const lines = [`${method} ${path} failed: HTTP ${res.status}${p?.code ? ` (${p.code})` : ""}${p?.detail ? `: ${asFlags(p.detail, options.flags)}` : ""}`];
    for (const e of p?.errors ?? []) lines.push(`  ${asFlags(e.path, options.flags)}: ${asFlags(e.message, options.flags)}`);
    if (res.status === 401 && !client.token) lines.push("  hint: pass --token or set SCAN_REGISTRY_TOKEN");
    throw new CliError(lines.join("\n"));
  }
  return { status: res.status, body: parsed as T };
}

/** Prints JSON when --json is given, else the human text. */
export function output(opts: { json?: boolean }, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** The instant `--expires-in` (`90d`, `12h`, `2w`, `30m`, `45s`) names from now, as ISO 8601. */
export function expiryFromDuration(text: string): string {
  const m = /^\s*(\d+)\s*([smhdw])\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new CliError(`--expires-in must be a duration such as 90d, 12h, 2w or 30m (got ${JSON.stringify(text)})`);
  return new Date(Date.now() + ms).toISOString();
}

/** Rows as columns padded to their widest cell (the first row is the header). */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}
