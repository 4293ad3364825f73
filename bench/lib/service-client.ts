import { Pool } from "pg";
import { TokenService } from "../../src/auth/token-service";
import type { Scope } from "../../src/auth/scopes";

export const BENCH_ADMIN_TOKEN = "sr_bench_admin_token_0123456789abcdefghij";

/** Creates a token with `scopes` straight in the service's database (as `scan-registry token create` would). */
export async function createToken(databaseUrl: string, name: string, scopes: Scope[]): Promise<string> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    return (await new TokenService(pool).create({ name, scopes, expiresAt: null })).token;
  } finally {
    await pool.end();
  }
}

/** POST /v1/reports with the bytes as given; throws unless the service stored it (201). */
export async function upload(baseUrl: string, body: Buffer | string, query = "", headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(`${baseUrl}/v1/reports${query}`, {
    method: "POST",
    body,
    headers: { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "Content-Type": "application/json", ...headers },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}
