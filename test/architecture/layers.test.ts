import fs from "node:fs";
import path from "node:path";

/**
 * The shape of src/ (README, "How the code is laid out"): data flows route → use case → repository → PostgreSQL,
 * and imports point down. These tests read every source file, so a file added tomorrow is checked too.
 */
const SRC = path.resolve(__dirname, "../../src");

function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** src-relative path without extension, e.g. "http/routes/policy". */
const rel = (file: string) => path.relative(SRC, file).replace(/\\/g, "/").replace(/\.ts$/, "");
/** The top folder under src ("http", "db", …), or the file name for files directly in src ("server", "config"). */
const area = (relPath: string) => relPath.split("/")[0]!;

/** Every module a file imports from inside src, as src-relative paths. */
function internalImports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1]!);
  return specifiers.filter((s) => s.startsWith(".")).map((s) => rel(path.resolve(path.dirname(file), s)));
}

const files = sourceFiles();
const edges = files.flatMap((file) => internalImports(file).map((to) => ({ from: rel(file), to })));

/** Which areas each area may import (besides itself). Unlisted areas: anything below http, ui and cli. */
const ALLOWED: Record<string, (to: string) => boolean> = {
  domain: () => false,
  db: (to) => ["domain", "generated"].includes(area(to)),
  observability: () => false,
};
/** Use-case and integration folders: never an entry point. */
const ENTRY_POINTS = ["http", "ui", "cli", "server", "main"];
const USE_CASES = ["ingest", "lookup", "policy", "auth", "integrations", "formats", "notifications"];

/** A forbidden edge, described; null when the edge is fine. */
function violation({ from, to }: { from: string; to: string }): string | null {
  const a = area(from);
  const b = area(to);
  if (a === b) return null;
  const allowed = ALLOWED[a];
  if (allowed && !allowed(to)) return `${from} → ${to}: ${a} may import only ${a === "db" ? "domain" : "itself"}`;
  if (USE_CASES.includes(a) && ENTRY_POINTS.includes(b)) return `${from} → ${to}: a use case imports an entry point`;
  if (a === "http" && b === "ui") return `${from} → ${to}: http and ui are siblings mounted by src/server.ts`;
  if (a === "ui" && (to === "http/app" || to.startsWith("http/routes/") || to === "http/lookup-fast-path"))
    return `${from} → ${to}: the dashboard does not import the API's routers`;
  return null;
}

test("when the sources are read, then their imports were found (the checks below can fail)", () => {
  expect(files.length).toBeGreaterThan(100);
  expect(edges).toContainEqual({ from: "server", to: "http/app" });
  expect(violation({ from: "db/report-repository", to: "ingest/resolve-images" })).not.toBeNull();
  expect(violation({ from: "http/app", to: "ui/router" })).not.toBeNull();
  expect(violation({ from: "observability/request-logging", to: "http/lookup-answer" })).not.toBeNull();
  expect(violation({ from: "policy/policy-service", to: "http/routes/policy" })).not.toBeNull();
  expect(violation({ from: "domain/report", to: "db/queryable" })).not.toBeNull();
});

test("when a module imports another, then the import points down (domain ← db ← use cases ← http / ui / cli)", () => {
  expect(edges.map(violation).filter((v) => v !== null)).toEqual([]);
});

const SQL_CALL = /\.query\s*[<(]|\.\$queryRaw|\.\$executeRaw|\bprisma\.[a-z]\w*\.(find|create|update|delete|upsert|count|aggregate|groupBy)/;

test("when a file outside src/db runs SQL or Prisma, then that is a defect: every statement lives in a src/db repository", () => {
  const offenders = files.map(rel).filter((f) => area(f) !== "db" && SQL_CALL.test(fs.readFileSync(path.join(SRC, `${f}.ts`), "utf8")));
  expect(offenders).toEqual([]);
});

/** Each repository says in its first comment which it uses, Prisma Client or raw SQL, and why. */
test("when a src/db module holds SQL, then its first comment says whether it uses Prisma or raw SQL", () => {
  const repositories = files.map(rel).filter((f) => area(f) === "db" && SQL_CALL.test(fs.readFileSync(path.join(SRC, `${f}.ts`), "utf8")));
  expect(repositories.length).toBeGreaterThan(8);
  const silent = repositories.filter((f) => {
    const first = /^\s*\/\*\*([\s\S]*?)\*\//.exec(fs.readFileSync(path.join(SRC, `${f}.ts`), "utf8"))?.[1] ?? "";
    return !/raw sql|prisma/i.test(first);
  });
  expect(silent).toEqual([]);
});

test("when the SQL detector reads calls, then it sees single-line, generic and Prisma calls and ignores req.query", () => {
  expect(SQL_CALL.test("await pool.query(\"SELECT 1\")")).toBe(true);
  expect(SQL_CALL.test("await tx.query<{ n: string }>(\n")).toBe(true);
  expect(SQL_CALL.test("await deps.prisma.scanReport.findUnique({")).toBe(true);
  expect(SQL_CALL.test("parseOr400(schema, req.query, \"query\")")).toBe(false);
});
