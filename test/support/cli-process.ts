import { spawn } from "node:child_process";
import { MAIN } from "./agent-process";

export interface CliRun {
  /** The exit code; -1 when the run was killed (it outlived `timeoutMs`, or a signal ended it). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `scan-registry <args>` from the build (dist/main.js) as a user would: a process with only PATH and `env` set,
 * `stdin` as its input (an empty input otherwise, so a command never waits for a terminal), killed after `timeoutMs`.
 */
export function runCli(args: string[], options: { env?: Record<string, string>; stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A command that exits before reading its input closes the pipe: that is not the test's failure.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}
