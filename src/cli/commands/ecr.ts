import type { Command } from "commander";
import { callApi, clientOptions, CliError, EXIT, output, withConnectionOptions, type ClientOptions } from "../client";

/**
 * `scan-registry ecr import|sync`: both go through the service (POST /v1/integrations/ecr/import), which reads ECR
 * with its own AWS credentials. `sync` lists the repository through the service too (GET /v1/integrations/ecr/images),
 * so the images listed are exactly those the service can read and import: the CLI needs a scan-registry token
 * (reports:write) but no AWS credentials of its own.
 */
interface ImportAnswer {
  report_id: string;
  duplicate: boolean;
  images: Array<{ image_digest: string; repository: string | null; tags: string[]; is_compliant: boolean; status: string; reasons: Array<{ message: string }> }>;
  summary: Record<string, number>;
  ecr_scan_status: string;
  pass_tag: { tag: string; applied: boolean; reason?: string } | null;
}

interface ImagesAnswer {
  repository: string;
  images: Array<{ image_digest: string; tags: string[]; scan_status: string | null }>;
}

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

function importBody(repository: string, image: { digest?: string; tag?: string }, registryId?: string) {
  return { repository, ...(image.digest ? { image_digest: image.digest } : { image_tag: image.tag }), ...(registryId ? { registry_id: registryId } : {}) };
}

function describeSummary(s: Record<string, number>): string {
  return `critical ${s.critical}, high ${s.high}, medium ${s.medium}, low ${s.low}, unknown ${s.unknown} (fixable ${s.fixable})`;
}

/** ECR answers that mean "nothing to import yet" rather than a failure of the sync. */
const NOT_READY = /\((ecr_scan_not_complete|ecr_scan_not_found)\)/;

export function register(program: Command): void {
  const ecr = program.command("ecr").description("import Amazon ECR scan findings (basic and Inspector) through the service");

  withConnectionOptions(
    ecr
      .command("import")
      .description("import one image's ECR findings; exit 0 compliant, 1 non-compliant, 2 error")
      .requiredOption("--repository <name>", "repository name in ECR, e.g. team/app")
      .option("--digest <sha256:…>", "image manifest digest")
      .option("--tag <tag>", "image tag (instead of --digest)")
      .option("--registry-id <account>", "AWS account of the registry (default: the service's own)")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { repository: string; digest?: string; tag?: string; registryId?: string }) => {
    if (!opts.digest === !opts.tag) throw new CliError("give exactly one of --digest and --tag");
    const { body } = await callApi<ImportAnswer>(clientOptions(opts), "POST", "/v1/integrations/ecr/import", importBody(opts.repository, opts, opts.registryId));
    const image = body.images[0];
    output(opts, body, () => {
      const lines = [
        `${image?.image_digest} ${body.duplicate ? "already imported" : "imported"} (ECR scan ${body.ecr_scan_status}): ${image?.status}`,
        `  findings: ${describeSummary(body.summary)}`,
        ...(image?.reasons ?? []).map((r) => `  - ${r.message}`),
      ];
      if (body.pass_tag) lines.push(`  pass tag ${body.pass_tag.tag}: ${body.pass_tag.applied ? "applied" : `not applied (${body.pass_tag.reason})`}`);
      return lines.join("\n");
    });
    if (image && !image.is_compliant) throw new CliError(`${image.image_digest} is ${image.status}`, EXIT.nonCompliant);
  });

  withConnectionOptions(
    ecr
      .command("sync")
      .description("import every image of a repository, with progress on stderr; exit 0 when all went well, 2 otherwise")
      .requiredOption("--repository <name>", "repository name in ECR, e.g. team/app")
      .option("--registry-id <account>", "AWS account of the registry (default: the service's own)")
      .option("--json", "print the per-image outcomes as JSON"),
  ).action(async (opts: ConnectionFlags & { repository: string; registryId?: string }) => {
    const client = clientOptions(opts);
    const query = new URLSearchParams({ repository: opts.repository, ...(opts.registryId ? { registry_id: opts.registryId } : {}) });
    const { body: listing } = await callApi<ImagesAnswer>(client, "GET", `/v1/integrations/ecr/images?${query}`);
    const outcomes = await importAll(client, opts, listing.images);
    const count = (what: string) => outcomes.filter((o) => o.outcome === what).length;
    const compliant = outcomes.filter((o) => o.status === "compliant").length;
    const failed = count("failed");
    output(opts, { repository: opts.repository, images: outcomes }, () =>
      `${opts.repository}: ${outcomes.length} images — ${count("imported")} imported, ${count("unchanged")} unchanged, ` +
        `${count("skipped")} skipped (no finished scan), ${failed} failed; ${compliant} compliant, ` +
        `${outcomes.filter((o) => o.status && o.status !== "compliant").length} not compliant`,
    );
    if (failed > 0) throw new CliError(`${failed} of ${outcomes.length} images could not be imported (see above)`, EXIT.error);
  });
}

interface SyncOutcome {
  image_digest: string;
  outcome: "imported" | "unchanged" | "skipped" | "failed";
  status: string | null;
  message?: string;
}

async function importAll(client: ClientOptions, opts: { repository: string; registryId?: string }, images: ImagesAnswer["images"]): Promise<SyncOutcome[]> {
  const outcomes: SyncOutcome[] = [];
  for (const [i, image] of images.entries()) {
    const prefix = `[${i + 1}/${images.length}] ${image.image_digest}`;
    try {
      const { body } = await callApi<ImportAnswer>(client, "POST", "/v1/integrations/ecr/import", importBody(opts.repository, { digest: image.image_digest }, opts.registryId));
      const status = body.images[0]?.status ?? null;
      outcomes.push({ image_digest: image.image_digest, outcome: body.duplicate ? "unchanged" : "imported", status });
      process.stderr.write(`${prefix} ${body.duplicate ? "unchanged" : "imported"} (${status})\n`);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      const message = error.message.split("\n")[0]!.replace(/^POST \S+ failed: /, "");
      const outcome = NOT_READY.test(message) ? "skipped" : "failed";
      outcomes.push({ image_digest: image.image_digest, outcome, status: null, message });
      process.stderr.write(`${prefix} ${outcome}: ${message}\n`);
      if (/HTTP (401|403)\b/.test(message)) throw error; // every further call would fail the same way
    }
  }
  return outcomes;
}
