import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The CLI as CI runs it: the build (`npm run build` first). */
export const MAIN = path.resolve(__dirname, "../../dist/main.js");

export function assertBuilt(...files: string[]): void {
  for (const file of ["main.js", ...files])
    if (!fs.existsSync(path.resolve(__dirname, "../../dist", file))) throw new Error(`dist/${file} is missing: run \`npm run build\` first`);
}

export interface AgentProcess {
  child: ChildProcess;
  /** stdout as JSON log lines (pino), in order. */
  logs: Array<Record<string, any>>;
  stdout(): string;
  stderr(): string;
  /** Resolves when `condition` holds (checked on every output line and every 25 ms); rejects after `timeoutMs` naming `what`. */
  waitFor<T>(what: string, condition: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** SIGTERM, then the exit code (null if killed by a signal). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Polls `condition` until it returns something truthy. */
export async function eventually<T>(what: string, condition: () => T | undefined | false, timeoutMs = 30_000, describe?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `\n${describe()}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `node dist/main.js <args>` with only the given environment (and PATH). */
export function startCliProcess(args: string[], env: Record<string, string>): AgentProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let partial = "";
  const logs: Array<Record<string, any>> = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const describe = () => `--- agent stdout (last lines) ---\n${out.split("\n").slice(-15).join("\n")}\n--- stderr ---\n${err.slice(-2000)}`;
  return {
    child,
    logs,
    stdout: () => out,
    stderr: () => err,
    waitFor: (what, condition, timeoutMs = 30_000) => eventually(what, condition, timeoutMs, describe),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    exited,
  };
}
