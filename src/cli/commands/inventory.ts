import fs from "node:fs";
import { gzipSync } from "node:zlib";
import type { Command } from "commander";
import { callApi, clientOptions, CliError, output, withConnectionOptions } from "../client";
import { checkClusterName } from "./agent";

/** The registry's answer to a snapshot (PRODUCT.md, Runtime; InventorySnapshotResult in /openapi.json). */
interface InventoryAnswer {
  cluster: string;
  pods?: number;
  containers: number;
  running: number;
  gone: number;
  unresolved: number;
  violations_opened: number;
  violations_resolved: number;
}

interface PushFlags {
  cluster: string;
  namespace?: string;
  json?: boolean;
  url?: string;
  token?: string;
}

async function readInput(file: string): Promise<Buffer> {
  if (file === "-") {
    if (process.stdin.isTTY) throw new CliError("inventory push reads the PodList from standard input: pipe it in (kubectl get pods -A -o json | scan-registry inventory push --cluster NAME -) or name a file");
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new CliError(`${file} is not a file`);
    return fs.readFileSync(file);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * `scan-registry inventory push --cluster NAME [file|-]`: one snapshot, as `kubectl get pods -A -o json` prints it,
 * sent as it is (gzip-compressed on the way) to POST /v1/inventory. The registry validates it and answers 422 with the
 * paths of what is wrong, which this prints; any error exits 2.
 */
export function register(program: Command): void {
  const inventory = program.command("inventory").description("runtime inventory: what runs where");
  withConnectionOptions(
    inventory
      .command("push [file]")
      .description("send one snapshot of a cluster's Pods (a PodList from a file, or - for standard input); exit 2 on any error")
      .requiredOption("--cluster <name>", "the cluster's name in the registry, e.g. prod")
      .option("--namespace <ns>", "the snapshot is of this namespace only (other namespaces are left as they are)")
      .option("--json", "print the API answer as JSON")
      .addHelpText(
        "after",
        `
The snapshot replaces what the registry knew of the cluster (or, with --namespace, of that namespace): containers
absent from it are marked gone. Needs a token with the inventory:write scope.

Examples:
  kubectl get pods -A -o json | scan-registry inventory push --cluster prod -
  kubectl get pods -n shop -o json > shop.json && scan-registry inventory push --cluster prod --namespace shop shop.json`,
      ),
  ).action(async (file: string | undefined, opts: PushFlags) => {
    const cluster = checkClusterName(opts.cluster);
    const client = clientOptions(opts);
    const bytes = await readInput(file ?? "-");
    if (bytes.length === 0) throw new CliError(`${file && file !== "-" ? file : "standard input"} is empty: expected a PodList (kubectl get pods -A -o json)`);
    const query = new URLSearchParams({ cluster, ...(opts.namespace ? { namespace: opts.namespace } : {}) });
    const { body } = await callApi<InventoryAnswer>(client, "POST", `/v1/inventory?${query}`, gzipSync(bytes), {
      "Content-Type": "application/json",
      "Content-Encoding": "gzip",
    });
    output(opts, body, () =>
      [
        `cluster ${body.cluster}${opts.namespace ? ` namespace ${opts.namespace}` : ""}: ${body.pods !== undefined ? `${body.pods} pods, ` : ""}${body.containers} containers (${body.running} with a digest, ${body.unresolved} unresolved), ${body.gone} gone`,
        `runtime violations: ${body.violations_opened} opened, ${body.violations_resolved} resolved`,
      ].join("\n"),
    );
  });
}
