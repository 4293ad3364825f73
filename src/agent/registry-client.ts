/**
 * The two registry calls the agent makes, over the public HTTP API (the agent may run in another cluster than the
 * registry): POST /v1/inventory (a snapshot, gzip-compressed) and GET /v1/violations (every page). Failures are
 * RegistryError values with the HTTP status when there was one, and the problem's code and detail; the token is
 * sent in the Authorization header only and never appears in a message.
 */
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { PodListBody } from "./pod-projection";

const gzipAsync = promisify(gzip);

class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The registry's answer to a snapshot (PRODUCT.md, Runtime; InventorySnapshotResult in /openapi.json). */
export interface InventoryAnswer {
  cluster: string;
  namespace?: string | null;
  pods?: number;
  containers: number;
  running: number;
  gone: number;
  unresolved: number;
  violations_opened: number;
  violations_resolved: number;
}

export interface RegistryClientOptions {
  url: string;
  token: string | undefined;
  timeoutMs: number;
}

/** The largest number of pages followed for one violations listing (a cursor that never ends is a server bug). */
const MAX_PAGES = 10_000;
const PAGE_SIZE = 500;

export class RegistryClient {
  constructor(private readonly options: RegistryClientOptions) {}

  get url(): string {
    return this.options.url;
  }

  /** POST /v1/inventory?cluster=…&source=agent with the snapshot; the registry replaces what it knew of the cluster. */
  async postInventory(cluster: string, body: PodListBody): Promise<InventoryAnswer> {
    const query = new URLSearchParams({ cluster, source: "agent" });
    const payload = await gzipAsync(Buffer.from(JSON.stringify(body)));
    return (await this.call("POST", `/v1/inventory?${query}`, payload, { "Content-Type": "application/json", "Content-Encoding": "gzip" })) as InventoryAnswer;
  }

  /** Open runtime violations of the cluster counted per namespace (GET /v1/violations, following next_cursor). */
  async openViolationsByNamespace(cluster: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = new URLSearchParams({ state: "open", cluster, limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) });
      const answer = (await this.call("GET", `/v1/violations?${query}`)) as { items?: Array<{ namespace?: unknown }>; next_cursor?: unknown };
      if (!Array.isArray(answer?.items)) throw new RegistryError("GET /v1/violations answered without items", 200);
      for (const item of answer.items) {
        if (typeof item.namespace === "string") counts.set(item.namespace, (counts.get(item.namespace) ?? 0) + 1);
      }
      const next = typeof answer.next_cursor === "string" && answer.next_cursor ? answer.next_cursor : undefined;
      if (!next) return counts;
      if (seen.has(next)) throw new RegistryError("GET /v1/violations returned a cursor twice", 200);
      seen.add(next);
      cursor = next;
    }
    throw new RegistryError(`GET /v1/violations had more than ${MAX_PAGES} pages`, 200);
  }

  private async call(method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<unknown> {
    const all: Record<string, string> = { Accept: "application/json", ...headers };
    if (this.options.token) all.Authorization = `Bearer ${this.options.token}`;
    const where = `${method} ${path.split("?")[0]}`;
    let res: Response;
    try {
      res = await fetch(`${this.options.url}${path}`, { method, headers: all, body, signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === "TimeoutError" ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new RegistryError(`${where}: cannot reach ${this.options.url}: ${why}`, undefined);
    }
    const text = await res.text().catch(() => "");
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const p = parsed as { code?: string; detail?: string } | undefined;
      throw new RegistryError(`${where}: HTTP ${res.status}${p?.code ? ` (${p.code})` : ""}${p?.detail ? `: ${p.detail}` : ""}`, res.status, p?.code);
    }
    return parsed;
  }
}
