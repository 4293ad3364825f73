import type { Command } from "commander";
import { isDigest } from "../../domain/image-reference";
import type { ComplianceAnswer } from "../../lookup/verdict-cache";
import { callApi, clientOptions, CliError, EXIT, output, withConnectionOptions } from "../client";

/** A reason as the API gives it (src/domain/verdict.ts); its message names the IDs that caused it. */
export interface ReasonAnswer {
  code: string;
  message: string;
}


/** One line per image: a mark, the status, then who; reasons indented below. */
export function verdictLines(image: { is_compliant: boolean; status: string; reasons: ReasonAnswer[] }, who: string): string[] {
  const lines = [`${image.is_compliant ? "✔" : "✘"} ${image.status.padEnd(13)} ${who}`];
  for (const reason of image.reasons) lines.push(`    - ${reason.message}`);
  return lines;
}

/** `scan-registry check <image-ref>`: may this image run? Exit 0 compliant, 1 not, 2 on any error. */
export function register(program: Command): void {
  withConnectionOptions(
    program
      .command("check <image-ref>")
      .description("ask whether an image may run, as admission control does (exit 0 compliant, 1 not compliant, 2 error)")
      .option("--namespace <namespace>", "namespace to record in the admission decision log")
      .option("--json", "print the API answer as JSON")
      .addHelpText(
        "after",
        `
<image-ref> is a digest (sha256:…), a reference with a digest (repo@sha256:…), or a tag that an uploaded report
names (registry/repo:tag). An image with no report is not_scanned, which the default policy does not allow.

Examples:
  scan-registry check ghcr.io/acme/api@sha256:0123…cdef
  scan-registry check registry.example.com/team/app:1.4.2 --namespace prod`,
      ),
  ).action(async (ref: string, opts: { namespace?: string; json?: boolean; url?: string; token?: string }) => {
    const client = clientOptions(opts);
    const query = new URLSearchParams();
    if (opts.namespace) query.set("namespace", opts.namespace);
    let path: string;
    if (isDigest(ref)) path = `/v1/images/${ref}/compliance`;
    else {
      query.set("image", ref);
      path = "/v1/compliance";
    }
    const qs = query.toString();
    const { body } = await callApi<ComplianceAnswer>(client, "GET", qs ? `${path}?${qs}` : path);
    output(opts, body, () => {
      const who = [ref, body.image_digest && !ref.includes(body.image_digest) ? `(${body.image_digest})` : ""].filter(Boolean).join(" ");
      const lines = verdictLines(body, who);
      if (body.reasons.length === 0 && !body.is_compliant) lines.push(`    - ${body.reason}`);
      lines.push(`  policy version ${body.policy_version}${body.scanned_at ? `, scanned ${body.scanned_at}` : ""}`);
      return lines.join("\n");
    });
    if (!body.is_compliant) throw new CliError(`${ref} may not run (${body.status})`, EXIT.nonCompliant);
  });
}
