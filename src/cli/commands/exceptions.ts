import fs from "node:fs";
import type { Command } from "commander";
import type { z } from "zod";
import type { exceptionChangeResponseSchema, exceptionResponseSchema } from "../../http/policy-schemas";
import { VEX_JUSTIFICATIONS } from "../../domain/exception";
import { callApi, clientOptions, CliError, expiryFromDuration, output, table, withConnectionOptions } from "../client";

/** An exception as the API answers it: the type of the API's response schema, so the two cannot drift. */
type ExceptionAnswer = z.infer<typeof exceptionResponseSchema> & Partial<Pick<z.infer<typeof exceptionChangeResponseSchema>, "reevaluated" | "changed">>;

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

function scope(e: ExceptionAnswer): string {
  if (e.image_digest && e.repository) return `${e.repository} @ ${e.image_digest}`;
  return e.image_digest ?? e.repository ?? "everywhere";
}

function describe(e: ExceptionAnswer): string {
  return [
    `${e.id}  ${e.vulnerability_id}  ${scope(e)}  (${e.state})`,
    `  reason:  ${e.reason}`,
    ...(e.justification ? [`  justification: ${e.justification}`] : []),
    ...(e.requested_by ? [`  requested by ${e.requested_by}`] : []),
    `  by ${e.created_by} at ${e.created_at}; ${e.expires_at ? `expires ${e.expires_at}` : "no expiry"}${e.revoked_at ? `; withdrawn by ${e.revoked_by ?? "?"} at ${e.revoked_at}` : ""}`,
    ...(e.reevaluated !== undefined ? [`  ${e.reevaluated} images re-evaluated, ${e.changed} changed`] : []),
  ].join("\n");
}

/** `scan-registry exceptions list|add|remove`: accepted risks, time-boxed or not. */
export function register(program: Command): void {
  const exceptions = program.command("exceptions").description("list, grant and withdraw policy exceptions");

  withConnectionOptions(
    exceptions
      .command("list")
      .description("list exceptions (those in force unless --all or --state)")
      .option("--all", "include expired and withdrawn exceptions")
      .option("--state <state>", "active, expired, revoked or all")
      .option("--vulnerability <id>", "only exceptions for this vulnerability ID")
      .option("--digest <digest>", "only exceptions that cover this image")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { all?: boolean; state?: string; vulnerability?: string; digest?: string }) => {
    const query = new URLSearchParams();
    query.set("state", opts.state ?? (opts.all ? "all" : "active"));
    if (opts.vulnerability) query.set("vulnerability_id", opts.vulnerability);
    if (opts.digest) query.set("image_digest", opts.digest);
    const { body } = await callApi<{ items: ExceptionAnswer[] }>(clientOptions(opts), "GET", `/v1/exceptions?${query}`);
    output(opts, body, () =>
      body.items.length === 0
        ? "no exceptions"
        : table([
            ["ID", "VULNERABILITY", "SCOPE", "EXPIRES", "STATE", "CREATED BY", "REQUESTED BY", "REASON"],
            ...body.items.map((e) => [e.id, e.vulnerability_id, scope(e), e.expires_at ?? "never", e.state, e.created_by, e.requested_by ?? "-", e.reason]),
          ]),
    );
  });

  withConnectionOptions(
    exceptions
      .command("add")
      .description("accept a vulnerability for one image, a repository glob, or everywhere; affected images are re-evaluated at once")
      .requiredOption("--vulnerability <id>", "CVE/GHSA ID, secret rule ID (private-key) or check ID (DS002)")
      .requiredOption("--reason <text>", "why the risk is accepted")
      .option("--repository <glob>", "repository glob: * within a path segment, ** across, ? one character (e.g. ghcr.io/acme/*)")
      .option("--digest <digest>", "only this image digest (sha256:…)")
      .option("--expires-in <duration>", "e.g. 30d, 12h, 2w")
      .option("--expires-at <instant>", "ISO 8601 instant, e.g. 2026-12-31T00:00:00Z")
      .option("--requested-by <name>", "who asked for it (free text, stored beside the granting token's name)")
      .option("--justification <value>", `OpenVEX justification: ${VEX_JUSTIFICATIONS.join(", ")}`)
      .option("--created-by <name>", "not accepted: the service records the token's name (use --requested-by)")
      .option("--json", "print the API answer as JSON"),
  ).action(
    async (
      opts: ConnectionFlags & {
        vulnerability: string;
        reason: string;
        repository?: string;
        digest?: string;
        expiresIn?: string;
        expiresAt?: string;
        requestedBy?: string;
        justification?: string;
        createdBy?: string;
      },
    ) => {
      if (opts.createdBy !== undefined)
        throw new CliError("--created-by is not accepted: the service records the name of the token that grants the exception; say who asked for it with --requested-by");
      if (opts.expiresIn && opts.expiresAt) throw new CliError("give --expires-in or --expires-at, not both");
      const expiresAt = opts.expiresIn ? expiryFromDuration(opts.expiresIn) : opts.expiresAt;
      const body = {
        vulnerability_id: opts.vulnerability,
        reason: opts.reason,
        ...(opts.repository ? { repository: opts.repository } : {}),
        ...(opts.digest ? { image_digest: opts.digest } : {}),
        ...(expiresAt ? { expires_at: expiresAt } : {}),
        ...(opts.requestedBy ? { requested_by: opts.requestedBy } : {}),
        ...(opts.justification ? { justification: opts.justification } : {}),
      };
      const { body: created } = await callApi<ExceptionAnswer>(clientOptions(opts), "POST", "/v1/exceptions", body);
      output(opts, created, () => `Granted exception\n${describe(created)}`);
    },
  );

  withConnectionOptions(
    exceptions
      .command("export")
      .description("write the exceptions in force for an image or a repository as Trivy's .trivyignore.yaml or an OpenVEX document (docs/vex.md)")
      .requiredOption("--format <format>", "trivyignore or openvex")
      .option("--image <ref>", "an image digest, a reference with a digest, or a tag a stored report names")
      .option("--repository <name>", "a repository, e.g. docker.io/library/nginx")
      .option("--output <file>", "write to this file instead of stdout"),
  ).action(async (opts: ConnectionFlags & { format: string; image?: string; repository?: string; output?: string }) => {
    if ((opts.image === undefined) === (opts.repository === undefined)) throw new CliError("give --image or --repository (one of them)");
    const query = new URLSearchParams({ format: opts.format });
    if (opts.image) query.set("image", opts.image);
    if (opts.repository) query.set("repository", opts.repository);
    const { body } = await callApi<unknown>(clientOptions(opts), "GET", `/v1/exceptions/export?${query}`, undefined, {
      Accept: "application/yaml, application/json",
    });
    const text = typeof body === "string" ? body : `${JSON.stringify(body, null, 2)}\n`;
    if (opts.output) {
      fs.writeFileSync(opts.output, text);
      process.stderr.write(`wrote ${opts.output}\n`);
    } else process.stdout.write(text);
  });

  withConnectionOptions(
    exceptions
      .command("remove <id>")
      .description("withdraw an exception (it is kept for audit); affected images are re-evaluated at once")
      .option("--json", "print the API answer as JSON"),
  ).action(async (id: string, opts: ConnectionFlags) => {
    const { body } = await callApi<ExceptionAnswer>(clientOptions(opts), "DELETE", `/v1/exceptions/${encodeURIComponent(id)}`);
    output(opts, body, () => `Withdrew exception\n${describe(body)}`);
  });
}
