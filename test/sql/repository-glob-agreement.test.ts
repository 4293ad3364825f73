import fc from "fast-check";
import { Pool } from "pg";
import { repositoryMatchesGlob } from "../../src/domain/repository-glob";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

/**
 * The API evaluates exception globs in TypeScript (src/domain/repository-glob.ts), the analysts' `current_findings`
 * view in PostgreSQL (`repository_glob_regex`): both must cover exactly the same repositories, for any glob and name.
 */
let database: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new Pool({ connectionString: database.url, max: 1 });
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

// Few distinct characters, so that random names often match; the regular-expression metacharacters are there to
// prove they are literal on both sides. U+0001 is left out: the SQL function uses it internally as a placeholder.
const LITERALS = ["a", "b", "/", ".", "-", ":", "0"];
const METACHARACTERS = ["+", "(", ")", "[", "]", "{", "}", "|", "^", "$", "\\", "\n", "é"];
const literal = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...LITERALS) }, { weight: 1, arbitrary: fc.constantFrom(...METACHARACTERS) });
const globPart = fc.oneof({ weight: 6, arbitrary: literal }, { weight: 2, arbitrary: fc.constantFrom("*", "**", "?") });
const glob = fc.array(globPart, { minLength: 1, maxLength: 16 }).map((parts) => parts.join(""));
const anyText = fc.array(literal, { maxLength: 6 }).map((c) => c.join(""));
const segmentText = fc.array(literal.filter((c) => c !== "/"), { maxLength: 4 }).map((c) => c.join(""));
const oneChar = literal.filter((c) => c !== "/");

/** A name the glob should match, built by filling each wildcard (then perhaps spoiled by the mutation below). */
function instantiate(g: string): fc.Arbitrary<string> {
  const parts: Array<fc.Arbitrary<string>> = [];
  for (let i = 0; i < g.length; i++) {
    if (g[i] === "*" && g[i + 1] === "*") {
      parts.push(anyText);
      i++;
    } else if (g[i] === "*") parts.push(segmentText);
    else if (g[i] === "?") parts.push(oneChar);
    else parts.push(fc.constant(g[i]!));
  }
  return fc.tuple(...parts).map((p) => p.join(""));
}

const pair = glob.chain((g) =>
  fc.tuple(
    fc.constant(g),
    fc.oneof(
      instantiate(g),
      instantiate(g).chain((name) => fc.tuple(fc.nat(name.length), literal).map(([at, c]) => name.slice(0, at) + c + name.slice(at + 1))),
      fc.array(literal, { maxLength: 20 }).map((c) => c.join("")),
    ),
  ),
);

async function sqlMatches(pairs: ReadonlyArray<readonly [string, string]>): Promise<boolean[]> {
  const { rows } = await pool.query<{ matches: boolean }>(
    `SELECT p.name ~ repository_glob_regex(p.glob) AS matches
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(glob, name, n) ORDER BY p.n`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return rows.map((r) => r.matches);
}

test("when any glob is matched against any name, then TypeScript and PostgreSQL's repository_glob_regex agree", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(pair, { minLength: 1, maxLength: 40 }), async (pairs) => {
      const sql = await sqlMatches(pairs);
      const ts = pairs.map(([g, name]) => repositoryMatchesGlob(name, g));
      expect(ts).toEqual(sql);
    }),
    { numRuns: 150 },
  );
});

test("when the globs are the hostile ones of issue 17, then both agree too", async () => {
  const hostile = "docker.io/redos/**?**?**?**?**?**?**?**?**?**?**?**?z";
  const pairs: Array<[string, string]> = [
    [hostile, `docker.io/redos/${"a".repeat(64)}`],
    [hostile, `docker.io/redos/${"a".repeat(64)}z`],
    [hostile, `docker.io/redos/${"a".repeat(11)}z`],
    [`docker.io/${"*a".repeat(10)}b`, `docker.io/${"a".repeat(40)}`],
    [`docker.io/${"*a".repeat(10)}b`, `docker.io/${"a".repeat(40)}b`],
  ];
  expect(pairs.map(([g, name]) => repositoryMatchesGlob(name, g))).toEqual(await sqlMatches(pairs));
  expect(pairs.map(([g, name]) => repositoryMatchesGlob(name, g))).toEqual([false, true, false, false, true]);
});
