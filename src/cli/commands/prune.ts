import type { Command } from "commander";
import { CliError } from "../client";

/**
 * `scan-registry prune`: history retention on demand, against DATABASE_URL (like `migrate`): deletes the findings and
 * raw copies of reports that are no image's current report and were received more than N days ago, in small
 * batches, with progress on stderr. The service, the configuration and pg are loaded only when it runs.
 */
export function register(program: Command): void {
  program
    .command("prune")
    .description("delete the findings and raw copies of superseded reports older than the retention (DATABASE_URL); report rows stay")
    .option("--older-than-days <n>", "reports received more than n days ago (default RETENTION_SUPERSEDED_DAYS)")
    .option("--batch-size <n>", "findings deleted per statement, 1000–5000 (default RETENTION_BATCH_SIZE)")
    .action(async (opts: { olderThanDays?: string; batchSize?: string }) => {
      const config = await configWithOptions(opts);
      if (!config.databaseUrl) throw new CliError("prune: set DATABASE_URL (with the embedded database, set RETENTION_SUPERSEDED_DAYS and serve prunes in the background)");
      const { supersededDays: days, batchSize } = config.retention;
      if (days === undefined) throw new CliError("prune: pass --older-than-days N or set RETENTION_SUPERSEDED_DAYS");
      const [{ openDatabase }, { pruneHistory }] = await Promise.all([import("../../db/database"), import("../../ingest/prune-history")]);
      // DATABASE_LISTEN_URL set apart from DATABASE_URL: DATABASE_URL is a transaction pooler (no startup settings).
      const pooled = config.databaseListenUrl !== undefined && config.databaseListenUrl !== config.databaseUrl;
      const db = openDatabase({ url: config.databaseUrl, pooled, poolSize: 1, connectionTimeoutMs: 10_000, applicationName: "scan-registry-prune" });
      try {
        process.stderr.write(`pruning reports superseded and received more than ${days} days ago, ${batchSize} findings per statement…\n`);
        const outcome = await pruneHistory(db.pool, {
          olderThanDays: days,
          batchSize,
          waitForLock: true,
          now: new Date(),
          onProgress: (p) => process.stderr.write(`  ${p.reports} reports, ${p.findings} findings, ${p.rawCopies} raw copies deleted\n`),
        });
        process.stdout.write(`Pruned ${outcome.reports} reports: ${outcome.findings} findings and ${outcome.rawCopies} raw copies (${outcome.rawBytes} bytes) deleted; the report rows stay.\n`);
      } finally {
        await db.close();
      }
    });
}

/** The options stand for the variables they override, so both are checked by the one configuration schema. */
const OPTION_VARIABLES = { olderThanDays: ["--older-than-days", "RETENTION_SUPERSEDED_DAYS"], batchSize: ["--batch-size", "RETENTION_BATCH_SIZE"] } as const;

async function configWithOptions(opts: { olderThanDays?: string; batchSize?: string }) {
  const { loadConfig, ConfigError } = await import("../../config");
  const given = (Object.keys(OPTION_VARIABLES) as Array<keyof typeof OPTION_VARIABLES>).filter((k) => opts[k] !== undefined);
  const env = { ...process.env, ...Object.fromEntries(given.map((k) => [OPTION_VARIABLES[k][1], opts[k]])) };
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Name the option the user typed, not the variable it stood in for.
    const problems = error.problems.map((p) => given.reduce((text, k) => text.replace(new RegExp(`^${OPTION_VARIABLES[k][1]}:`), `${OPTION_VARIABLES[k][0]}:`), p));
    throw new CliError(`prune: ${problems.join("; ")}`);
  }
}
