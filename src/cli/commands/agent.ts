import type { Command } from "commander";
import { CLUSTER_NAME_PATTERN } from "../../domain/workload";
import { clientOptions, CliError, EXIT, withConnectionOptions } from "../client";

/**
 * `scan-registry agent --cluster NAME`: runs in (or against) a cluster, lists and watches its Pods and keeps the
 * registry's inventory of that cluster current with full snapshots (src/agent/). Runs until SIGTERM or SIGINT, then
 * exits 0. The Kubernetes client is loaded only here, inside the action.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `2s`, `5m`, `1h` → milliseconds; the flag is named in the error. */
export function durationMs(text: string, flag: string, minMs = 1): number {
  const m = /^\s*(\d+)\s*(ms|s|m|h)\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(ms) || ms < minMs) throw new CliError(`${flag} must be a duration such as 500ms, 2s, 5m or 1h${minMs > 1 ? ` (at least ${minMs} ms)` : ""} (got ${JSON.stringify(text)})`);
  return ms;
}

export function checkClusterName(cluster: string): string {
  if (!CLUSTER_NAME_PATTERN.test(cluster))
    throw new CliError(`--cluster must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters (got ${JSON.stringify(cluster)})`);
  return cluster;
}

interface AgentFlags {
  cluster: string;
  labelNamespaces?: boolean;
  debounce: string;
  resync: string;
  labelInterval: string;
  maxBackoff: string;
  pageSize: string;
  watchTimeout: string;
  requestTimeout: string;
  logLevel?: string;
  url?: string;
  token?: string;
}

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command("agent")
      .description("list and watch the cluster's Pods and keep the registry's runtime inventory of it current (runs until SIGTERM)")
      .requiredOption("--cluster <name>", "the cluster's name in the registry, e.g. prod-eu-1")
      .option("--label-namespaces", "keep the label scan-registry.io/runtime-violations=<count> on namespaces with open runtime violations (removed at 0)")
      .option("--debounce <duration>", "changes within this window become one snapshot", "2s")
      .option("--resync <duration>", "send the whole cache this often even when nothing changed", "5m")
      .option("--label-interval <duration>", "with --label-namespaces: reconcile labels this often (and after every snapshot)", "1m")
      .option("--max-backoff <duration>", "longest wait between retries when the registry or the Kubernetes API is away", "1m")
      .option("--page-size <pods>", "Pods per list page", "500")
      .option("--watch-timeout <duration>", "each watch request asks the API server to end it after this long", "5m")
      .option("--request-timeout <duration>", "for each list, patch and registry request", "60s")
      .option("--log-level <level>", "trace, debug, info, warn or error (default: $LOG_LEVEL or info)")
      .addHelpText(
        "after",
        `
Kubernetes: in-cluster service account, or KUBECONFIG / ~/.kube/config (KubeConfig.loadFromDefault()).
RBAC: pods get/list/watch; with --label-namespaces also namespaces list/patch (deploy/kubernetes/agent.yaml).
Registry: a token with the inventory:write scope (and compliance:read for --label-namespaces), from
SCAN_REGISTRY_TOKEN or --token. Logs are JSON lines on stdout; the token is never logged.

Examples:
  SCAN_REGISTRY_URL=https://scan-registry.example.com SCAN_REGISTRY_TOKEN=sr_… scan-registry agent --cluster prod
  scan-registry agent --cluster prod --label-namespaces    # then: kubectl get ns -l scan-registry.io/runtime-violations`,
      ),
  ).action(async (opts: AgentFlags) => {
    const cluster = checkClusterName(opts.cluster);
    const client = clientOptions(opts);
    if (!client.token) throw new CliError("the agent needs a registry token with the inventory:write scope: set SCAN_REGISTRY_TOKEN or pass --token");
    const pageSize = Number(opts.pageSize);
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 10_000) throw new CliError(`--page-size must be a whole number from 1 to 10000 (got ${JSON.stringify(opts.pageSize)})`);
    const settings = {
      cluster,
      labelNamespaces: opts.labelNamespaces === true,
      debounceMs: durationMs(opts.debounce, "--debounce", 0),
      resyncMs: durationMs(opts.resync, "--resync", 1000),
      labelIntervalMs: durationMs(opts.labelInterval, "--label-interval", 1000),
      maxBackoffMs: durationMs(opts.maxBackoff, "--max-backoff", 100),
      pageSize,
      watchTimeoutSeconds: Math.max(1, Math.round(durationMs(opts.watchTimeout, "--watch-timeout", 1000) / 1000)),
      requestTimeoutMs: durationMs(opts.requestTimeout, "--request-timeout", 100),
    };
    const level = opts.logLevel ?? process.env.LOG_LEVEL ?? "info";
    if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(level)) throw new CliError(`--log-level must be trace, debug, info, warn or error (got ${JSON.stringify(level)})`);

    // Listen for SIGTERM/SIGINT from the first moment: a signal while the client loads or connects stops cleanly too.
    let stopAgent: ((signal: string) => void) | undefined;
    let stopSignal: string | undefined;
    const onSignal = (signal: string) => {
      stopSignal ??= signal;
      stopAgent?.(signal);
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));

    const [{ createLogger }, { connectKubernetes, KubernetesApiError }, { RegistryClient }, { startAgent }] = await Promise.all([
      import("../../logger"),
      import("../../agent/kubernetes-api"),
      import("../../agent/registry-client"),
      import("../../agent/run-agent"),
    ]);
    const log = createLogger(level).child({ component: "agent", cluster });
    let kubernetes;
    try {
      kubernetes = await connectKubernetes();
    } catch (error) {
      if (error instanceof KubernetesApiError) throw new CliError(error.message);
      throw error;
    }
    const registry = new RegistryClient({ url: client.url, token: client.token, timeoutMs: settings.requestTimeoutMs });
    log.info(
      { kubernetes: kubernetes.server, registry: client.url, labelNamespaces: settings.labelNamespaces, debounceMs: settings.debounceMs, resyncMs: settings.resyncMs },
      "agent starting",
    );
    if (stopSignal) {
      log.info({ signal: stopSignal }, "agent stopped before it started");
      return;
    }
    const agent = startAgent(settings, kubernetes, registry, log);
    stopAgent = (signal) => {
      log.info({ signal }, "agent stopping");
      void agent.stop();
    };
    await agent.done;
    log.info("agent stopped");
    // Keep-alive sockets of the Kubernetes client must not hold the process once everything has stopped.
    setTimeout(() => process.exit(EXIT.ok), 2000).unref();
  });
}
