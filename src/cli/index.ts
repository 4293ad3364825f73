import { ConfigError, loadConfig } from "../config";
import { openDatabase } from "../db/database";
import { migrate } from "../db/migrator";
import { serve } from "./serve";

/** Entry point of `scan-registry <command>`; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command = "serve"] = argv;
  try {
    if (command === "serve") return await serve();
    if (command === "migrate") {
      const config = loadConfig();
      if (!config.databaseUrl) {
        process.stderr.write("migrate: set DATABASE_URL (serve applies migrations itself on the embedded database)\n");
        return 2;
      }
      const db = openDatabase({ url: config.databaseUrl, poolSize: 1, connectionTimeoutMs: 10_000 });
      try {
        const applied = await migrate(db.pool);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await db.close();
      }
      return 0;
    }
    process.stderr.write(`unknown command: ${command}\n`);
    return 2;
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : `error: ${(error as Error).message}`}\n`);
    return 2;
  }
}
