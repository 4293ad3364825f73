/**
 * Repository globs for exception scopes. Must match exactly what the SQL function `repository_glob_regex`
 * (prisma/migrations/…_init/migration.sql) matches, which the `current_findings` view uses: an exception must cover
 * the same images in the API as in the analysts' view (test/sql/repository-glob-agreement.test.ts checks both on
 * random globs and names).
 *
 * Matching is a simulation of the glob's automaton (every glob position the name could have reached so far, advanced
 * one character at a time), never a backtracking regular expression: a JavaScript RegExp of `**?**?…z` took
 * exponential time on a name without the `z` (issue 17: 2.9 s for one upload, minutes for a longer name), and the
 * service evaluates exceptions on the event loop. Here a match costs at most (name length + 1) × (glob length + 1)
 * steps, whatever the glob.
 */

const VALID_GLOB = /^[a-z0-9._\-/:*?]{1,255}$/;

/** Lower case only, because repositories are normalised to lower case: an upper-case glob could never match. */
export function isValidRepositoryGlob(glob: string): boolean {
  return VALID_GLOB.test(glob) && !glob.split("/").includes("");
}

/** One glob element: a literal character, `?` (one character but `/`), `*` (a run without `/`), `**` (any run). */
type Token = { kind: "literal"; char: string } | { kind: "one" } | { kind: "segment" } | { kind: "any" };

/** A glob as tokens; `**` pairs are taken left to right, as the SQL function's replace() does (`***` = `**` `*`). */
function tokenize(glob: string): Token[] {
  const tokens: Token[] = [];
  // By code point, like PostgreSQL's regular expressions over text.
  const chars = Array.from(glob);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "*" && chars[i + 1] === "*") {
      tokens.push({ kind: "any" });
      i++;
    } else if (c === "*") tokens.push({ kind: "segment" });
    else if (c === "?") tokens.push({ kind: "one" });
    else tokens.push({ kind: "literal", char: c });
  }
  return tokens;
}

// Bounded: exceptions are few, but re-evaluation matches the same globs for every image.
const cache = new Map<string, Token[]>();
const CACHE_LIMIT = 1000;

function tokensOf(glob: string): Token[] {
  let tokens = cache.get(glob);
  if (!tokens) {
    tokens = tokenize(glob);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(glob, tokens);
  }
  return tokens;
}

/** Adds to `states` every position reachable from those in it without reading a character (`*` and `**` may match nothing). */
function close(tokens: readonly Token[], states: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) {
    const kind = tokens[i]!.kind;
    if (states[i] && (kind === "segment" || kind === "any")) states[i + 1] = 1;
  }
}

/**
 * Anchored at both ends; `**` matches anything (also `/`), `*` anything within one path segment, `?` one character
 * but `/`, every other character itself (case-sensitive). Any string is a glob (like the SQL function), so an odd
 * stored glob never makes evaluation throw.
 */
export function repositoryMatchesGlob(repository: string, glob: string): boolean {
  const tokens = tokensOf(glob);
  const size = tokens.length + 1;
  let current = new Uint8Array(size);
  let next = new Uint8Array(size);
  current[0] = 1;
  close(tokens, current);
  for (const c of repository) {
    next.fill(0);
    let alive = false;
    for (let i = 0; i < tokens.length; i++) {
      if (!current[i]) continue;
      const token = tokens[i]!;
      // The position the token leads to after reading c: past it, still on it (a run), or none.
      const to =
        token.kind === "literal" ? (token.char === c ? i + 1 : -1)
        : token.kind === "one" ? (c !== "/" ? i + 1 : -1)
        : token.kind === "segment" ? (c !== "/" ? i : -1)
        : i;
      if (to >= 0) {
        next[to] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    close(tokens, next);
    [current, next] = [next, current];
  }
  return current[tokens.length] === 1;
}
