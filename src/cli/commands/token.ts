import type { Command } from "commander";
import { callApi, clientOptions, expiryFromDuration, output, table, withConnectionOptions } from "../client";

interface TokenAnswer {
  id: string;
  name: string;
  token_prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  token?: string;
}

function state(t: TokenAnswer): string {
  if (t.revoked_at) return "revoked";
  if (t.expires_at && Date.parse(t.expires_at) <= Date.now()) return "expired";
  return "active";
}

/** `scan-registry token create|list|revoke`: token administration through the HTTP API (an admin token is needed). */
export function register(program: Command): void {
  const token = program.command("token").description("create, list and revoke API tokens (needs an admin token)");

  withConnectionOptions(
    token
      .command("create")
      .description("create a token; it is printed this once and stored only as a hash")
      .requiredOption("--name <name>", "who or what uses it, e.g. ci or kyverno")
      .requiredOption("--scopes <scopes>", "comma-separated: reports:write, compliance:read, policy:write, inventory:write, admin")
      .option("--expires-in <duration>", "lifetime such as 90d, 12h or 2w (default: never expires)")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: { name: string; scopes: string; expiresIn?: string; json?: boolean; url?: string; token?: string }) => {
    const scopes = opts.scopes.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const expiresAt = opts.expiresIn ? expiryFromDuration(opts.expiresIn) : undefined;
    const { body } = await callApi<TokenAnswer>(clientOptions(opts), "POST", "/v1/tokens", { name: opts.name, scopes, ...(expiresAt ? { expires_at: expiresAt } : {}) });
    output(opts, body, () =>
      [
        `Created token "${body.name}" (${body.id}) with scopes ${body.scopes.join(", ")}; ${body.expires_at ? `expires ${body.expires_at}` : "never expires"}.`,
        "It is shown this once; store it now:",
        "",
        `  ${body.token}`,
      ].join("\n"),
    );
  });

  withConnectionOptions(token.command("list").description("list tokens (never their values or hashes)").option("--json", "print the API answer as JSON")).action(
    async (opts: { json?: boolean; url?: string; token?: string }) => {
      const { body } = await callApi<{ items: TokenAnswer[] }>(clientOptions(opts), "GET", "/v1/tokens");
      output(opts, body, () =>
        body.items.length === 0
          ? "no tokens"
          : table([
              ["ID", "NAME", "PREFIX", "SCOPES", "STATE", "EXPIRES", "LAST USED"],
              ...body.items.map((t) => [t.id, t.name, `${t.token_prefix}…`, t.scopes.join(","), state(t), t.expires_at ?? "never", t.last_used_at ?? "-"]),
            ]),
      );
    },
  );

  withConnectionOptions(token.command("revoke").description("revoke a token by its ID (effective within 5 s on every replica)").argument("<id>", "token ID from `token list`").option("--json", "print the API answer as JSON")).action(
    async (id: string, opts: { json?: boolean; url?: string; token?: string }) => {
      const { body } = await callApi<TokenAnswer>(clientOptions(opts), "DELETE", `/v1/tokens/${encodeURIComponent(id)}`);
      output(opts, body, () => `Revoked token "${body.name}" (${body.id}) at ${body.revoked_at}.`);
    },
  );
}
