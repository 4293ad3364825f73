import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ChildServer {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Polls `url` until it answers 200 (or the process exits, or the deadline passes). */
export async function waitFor200(url: string, child: ChildProcess, timeoutMs = 60_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Starts a Node.js program as its own process, logging to `logFile`, and waits until `readyPath` answers 200. */
export async function startNodeServer(options: {
  args: string[];
  env: Record<string, string>;
  port: number;
  readyPath: string;
  logFile: string;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<ChildServer> {
  const log = fs.openSync(options.logFile, "a");
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...options.args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env, PORT: String(options.port) },
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitFor200(url + options.readyPath, child, options.timeoutMs);
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}; see ${options.logFile}`);
  }
  return { url, pid: child.pid!, child, stop: () => stopChild(child) };
}

/** The service as users run it: `node dist/main.js serve`, configured through the environment only. */
export async function startService(env: Record<string, string>, logFile: string): Promise<ChildServer> {
  const port = await freePort();
  return startNodeServer({ args: ["dist/main.js", "serve"], env: { HOST: "127.0.0.1", ...env }, port, readyPath: "/readyz", logFile });
}

/** Peak (VmHWM) and current (VmRSS) resident set size of a process, in MB, from /proc. */
export function readRss(pid: number): { peakMb: number; currentMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { peakMb: kb("VmHWM") / 1024, currentMb: kb("VmRSS") / 1024 };
}
