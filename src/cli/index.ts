import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { CliError, EXIT } from "./client";
import * as agentCommands from "./commands/agent";
import * as checkCommands from "./commands/check";
import * as ecrCommands from "./commands/ecr";
import * as exceptionsCommands from "./commands/exceptions";
import * as incidentsCommands from "./commands/incidents";
import * as inventoryCommands from "./commands/inventory";
import * as notificationsCommands from "./commands/notifications";
import * as policyCommands from "./commands/policy";
import * as pruneCommands from "./commands/prune";
import * as reevaluateCommands from "./commands/reevaluate";
import * as tokenCommands from "./commands/token";
import * as uploadCommands from "./commands/upload";

/**
 * Each command group lives in src/cli/commands/<name>.ts and exports `register(program)`. The list is the one
 * place that wires them. These modules are small (commander and Node built-ins only) and are loaded for every command.
 * The service (Express, Prisma, pg, the AWS SDK, embedded PostgreSQL) and the configuration (zod) are loaded only by
 * `serve` and `migrate`, inside their actions, so `--help` and the client commands start without them.
 */
const COMMAND_MODULES: ReadonlyArray<{ register(program: Command): void }> = [
  uploadCommands,
  checkCommands,
  tokenCommands,
  policyCommands,
  exceptionsCommands,
  reevaluateCommands,
  ecrCommands,
  incidentsCommands,
  inventoryCommands,
  agentCommands,
  notificationsCommands,
  pruneCommands,
];

/** The version in package.json (next to src/ and dist/, in a checkout and in the image alike). */
function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("scan-registry")
    .description("System of record for container image scan results; answers \"may this image digest run?\"")
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .exitOverride()
    .showHelpAfterError();

  program
    .command("serve")
    .description("run the HTTP service (embedded PostgreSQL unless DATABASE_URL is set)")
    .action(async () => {
      const { serve } = await import("./serve");
      setExit(await serve());
    });

  program
    .command("migrate")
    .description("apply pending database migrations to DATABASE_URL and exit")
    .action(async () => {
      const { loadConfig } = await import("../config");
      const config = loadConfig();
      if (!config.databaseUrl) throw new CliError("migrate: set DATABASE_URL (serve applies migrations itself on the embedded database)");
      const [{ openDatabase }, { migrate }] = await Promise.all([import("../db/database"), import("../db/migrator")]);
      // Migrations hold a session advisory lock: through DATABASE_LISTEN_URL's direct connection when it is set.
      const db = openDatabase({ url: config.databaseUrl, directUrl: config.databaseListenUrl, pooled: config.databaseListenUrl !== undefined && config.databaseListenUrl !== config.databaseUrl, poolSize: 1, connectionTimeoutMs: 10_000 });
      try {
        const applied = await migrate(db.sessionPool);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await db.close();
      }
    });

  for (const commands of COMMAND_MODULES) commands.register(program);
  return program;
}

/** Entry point of `scan-registry <command>`; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    // Only serve and migrate read the configuration; its module (and zod) is not loaded for the other commands.
    if (error instanceof (await import("../config")).ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return EXIT.error;
  }
}
