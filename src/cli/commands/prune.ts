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
      const { loadConfig } = await import("../../config");
      const config = loadConfig();
      if (!config.databaseUrl) throw new CliError("prune: set DATABASE_URL (with the embedded database, set RETENTION_SUPERSEDED_DAYS and serve prunes in the background)");
      const days = opts.olderThanDays === undefined ? config.retention.supersededDays : wholeNumber("--older-than-days", opts.olderThanDays, 1, 36_500);
      if (days === undefined) throw new CliError("prune: pass --older-than-days N or set RETENTION_SUPERSEDED_DAYS");
      const batchSize = opts.batchSize === undefined ? config.retention.batchSize : wholeNumber("--batch-size", opts.batchSize, 1000, 5000);
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

function wholeNumber(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new CliError(`${option}: a whole number from ${min} to ${max}`);
  return n;
}
