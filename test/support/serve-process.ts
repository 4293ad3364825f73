import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { TEST_ADMIN_TOKEN } from "./test-app";

const MAIN = path.resolve(__dirname, "../../dist/main.js");

/** A `scan-registry serve` process (dist/, run `npm run build` first) and the URL it said it listens on. */
export interface ServeProcess {
  process: ChildProcess;
  url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

/**
 * Starts `node dist/main.js serve` on an ephemeral loopback port with the test admin token, as replicas are run,
 * and resolves once its "listening" log line names the URL. `env` is added to (and overrides) that base.
 */
export async function startServeProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [MAIN, "serve"], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1", ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output.slice(-3000)}`)), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"scan-registry listening"/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${output.slice(-3000)}`)));
  });
  return { process: child, url, output: () => output };
}
