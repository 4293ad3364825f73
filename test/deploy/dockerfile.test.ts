/**
 * No Docker engine runs here, so the Dockerfile and docker-compose.yml are checked by reading them: the lines the
 * image depends on, every COPY source existing and not hidden by .dockerignore, and the HEALTHCHECK command itself
 * run with node against a real service.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { startTestApp, type TestApp } from "../support/test-app";

const ROOT = path.resolve(__dirname, "../..");
const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
/** Instructions with line continuations joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([]);
  acc[acc.length - 1]?.push(line);
  return acc;
}, []);
const runtime = stages[stages.length - 1]!;
const dockerignore = fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

test("when the image is built, then it is multi-stage: npm ci and the build in one stage, production dependencies only in the node:20-slim runtime", () => {
  expect(stages).toHaveLength(2);
  expect(stages[0]![0]).toMatch(/^FROM node:20-slim AS build$/);
  expect(stages[0]).toContain("RUN npm ci --ignore-scripts");
  expect(stages[0]!.some((l) => /^RUN npm run build\b/.test(l))).toBe(true);
  expect(runtime[0]).toMatch(/^FROM node:20-slim AS runtime$/);
  // "prepare" runs the TypeScript build on npm ci: the runtime stage must not, it has no sources or dev tools.
  expect(runtime.some((l) => /^RUN npm ci --omit=dev --ignore-scripts\b/.test(l))).toBe(true);
  expect(runtime).toContain("COPY --from=build /app/dist ./dist");
});

test("when the container runs, then it is the non-root node user, exposes 8080, has a HEALTHCHECK and serves (migrating first)", () => {
  const user = runtime.filter((l) => /^USER\s/.test(l));
  expect(user).toEqual(["USER node"]);
  expect(runtime.indexOf("USER node")).toBeLessThan(runtime.findIndex((l) => l.startsWith("CMD")));
  expect(runtime).toContain("EXPOSE 8080");
  expect(runtime.some((l) => /^HEALTHCHECK .*CMD .*\/healthz/.test(l))).toBe(true);
  expect(runtime[runtime.length - 1]).toBe('CMD ["node", "dist/main.js", "serve"]');
  // The migrator reads <dist>/../prisma/migrations: the image must carry them beside dist.
  expect(runtime).toContain("COPY prisma/migrations ./prisma/migrations");
});

test("when the build context is sent, then every COPY source exists and .dockerignore does not hide it", () => {
  const sources = instructions
    .filter((l) => /^COPY\s/.test(l) && !l.includes("--from="))
    .flatMap((l) => l.split(/\s+/).slice(1, -1));
  expect(sources.length).toBeGreaterThan(5);
  for (const source of sources) {
    expect(fs.existsSync(path.join(ROOT, source))).toBe(true);
    const top = source.split("/")[0]!;
    expect(dockerignore).not.toContain(top);
  }
  for (const heavy of ["node_modules", "dist", ".data", ".git"]) expect(dockerignore).toContain(heavy);
});

describe("the HEALTHCHECK command", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app.close());

  test("when it runs against a live service, then it exits 0; against a closed port, 1", async () => {
    const exec = JSON.parse(/^HEALTHCHECK .*?CMD (\[.*\])$/.exec(runtime.find((l) => l.startsWith("HEALTHCHECK"))!)![1]!) as string[];
    expect(exec[0]).toBe("node");
    // Asynchronously: the service answers from this same process.
    const run = (port: number) =>
      new Promise<number | null>((resolve) => {
        const child = execFile(process.execPath, exec.slice(1), { env: { ...process.env, PORT: String(port) }, timeout: 10_000 });
        child.on("exit", (code) => resolve(code));
      });
    expect(await run(app.service.port)).toBe(0);
    expect(await run(1)).toBe(1);
  });
});

test("when docker compose starts, then PostgreSQL 16 is healthy with a volume before the service starts, and the service is checked on /readyz", () => {
  const compose = parse(fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8"));
  const postgres = compose.services.postgres;
  const service = compose.services["scan-registry"];
  expect(postgres.image).toBe("postgres:16");
  expect(postgres.healthcheck.test.join(" ")).toMatch(/pg_isready/);
  const [volume, mountPoint] = postgres.volumes[0].split(":");
  expect(Object.keys(compose.volumes)).toContain(volume);
  expect(mountPoint).toBe("/var/lib/postgresql/data");
  expect(service.build).toBe(".");
  expect(service.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
  const url = new URL(service.environment.DATABASE_URL.replace(/\$\{POSTGRES_PASSWORD:-([^}]*)\}/, "$1"));
  expect(url.hostname).toBe("postgres");
  expect(url.username).toBe(postgres.environment.POSTGRES_USER);
  expect(url.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`);
  expect(service.environment.ADMIN_TOKEN).toMatch(/^\$\{ADMIN_TOKEN/);
  expect(service.healthcheck.test.join(" ")).toMatch(/\/readyz/);
  expect(service.ports).toContain("8080:8080");
});
