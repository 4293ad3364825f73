import { loadConfig } from "../config";
import { createLogger } from "../logger";
import { startService } from "../server";
import { EXIT } from "./client";

/**
 * `scan-registry serve`: runs the service until SIGTERM/SIGINT, then drains and exits. A bad configuration throws
 * ConfigError, which runCli prints and turns into exit 2, as for migrate.
 */
export async function serve(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Listening for the signals from the start: a signal with no listener terminates the process at once, leaving an
  // embedded PostgreSQL running. One that arrives while the service starts is acted on as soon as it has started.
  let pending: string | null = null;
  let onSignal = (signal: string) => {
    pending = signal;
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  const service = await startService(config, {
    logger,
    handlesShutdownSignals: true,
    announceToken: (token) =>
      process.stderr.write(
        `\nFirst start: an admin token was generated. It is shown this once; store it now:\n\n  ${token}\n\n` +
          `Use it as SCAN_REGISTRY_TOKEN, or create narrower tokens with POST /v1/tokens.\n\n`,
      ),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down: draining requests");
      const hardStop = setTimeout(() => {
        logger.error("shutdown took longer than 20 s; exiting");
        process.exit(1);
      }, 20_000);
      hardStop.unref();
      void service.close().then(resolve, resolve);
    };
    if (pending) stop(pending);
    else onSignal = stop;
  });
  logger.info("stopped");
  return EXIT.ok;
}
