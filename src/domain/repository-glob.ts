/**
 * Repository globs for exception scopes. Must stay identical to the SQL function `repository_glob_regex`
 * (prisma/migrations/…_init/migration.sql), which the `current_findings` view uses: an exception must cover the
 * same images in the API as in the analysts' view.
 */

const VALID_GLOB = /^[a-z0-9._\-/:*?]{1,255}$/;

/** Lower case only, because repositories are normalised to lower case: an upper-case glob could never match. */
export function isValidRepositoryGlob(glob: string): boolean {
  return VALID_GLOB.test(glob) && !glob.split("/").includes("");
}

// Bounded: exceptions are few, but re-evaluation compiles the same globs for every image.
const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 1000;

/**
 * Anchored; `**` matches anything (also `/`), `*` anything within one path segment, `?` one character but `/`.
 * Compiles any string (like the SQL function) so that an odd stored glob never makes evaluation throw.
 */
export function compileRepositoryGlob(glob: string): RegExp {
  const cached = cache.get(glob);
  if (cached) return cached;
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // `s`: PostgreSQL's `.` also matches a newline.
  const re = new RegExp(`^${source}$`, "s");
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(glob, re);
  return re;
}

export function repositoryMatchesGlob(repository: string, glob: string): boolean {
  return compileRepositoryGlob(glob).test(repository);
}
