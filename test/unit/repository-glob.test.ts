import { isValidRepositoryGlob, repositoryMatchesGlob } from "../../src/domain/repository-glob";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

describe("repository glob matching (same as SQL repository_glob_regex)", () => {
  test.each<[string, string, boolean]>([
    ["docker.io/library/nginx", "docker.io/library/nginx", true],
    ["docker.io/library/nginx", "docker.io/library/nginx-unprivileged", false], // anchored at the end
    ["docker.io/library/nginx", "mirror.docker.io/library/nginx", false], // anchored at the start
    ["docker.io/library/*", "docker.io/library/nginx", true],
    ["docker.io/library/*", "docker.io/library/", true], // * may match nothing
    ["docker.io/library/*", "docker.io/library/a/b", false], // * stays within a segment
    ["docker.io/*/nginx", "docker.io/library/nginx", true],
    ["docker.io/*", "docker.io/library/nginx", false],
    ["docker.io/**", "docker.io/library/nginx", true],
    ["docker.io/**", "docker.io/", true],
    ["**", "docker.io/library/nginx", true],
    ["*", "docker.io/library/nginx", false],
    ["**/nginx", "docker.io/library/nginx", true],
    ["**/nginx", "docker.io/library/nginx-debug", false],
    ["ghcr.io/acme/**/api", "ghcr.io/acme/team/svc/api", true],
    ["ghcr.io/acme/**/api", "ghcr.io/acme/api", false], // the slashes on both sides are literal
    ["ghcr.io/acme/app-*", "ghcr.io/acme/app-frontend", true],
    ["ghcr.io/acme/app-*", "ghcr.io/acme/app", false],
    ["ghcr.io/acme/app?", "ghcr.io/acme/app1", true],
    ["ghcr.io/acme/app?", "ghcr.io/acme/app", false],
    ["ghcr.io/acme/app?", "ghcr.io/acme/app12", false],
    ["ghcr.io/acme?app", "ghcr.io/acme/app", false], // ? never matches /
    ["docker.io/library/nginx", "dockerXio/library/nginx", false], // . is literal
    ["registry:5000/team/*", "registry:5000/team/app", true],
    [`${ECR}/team/*`, `${ECR}/team/app`, true],
    [`*.dkr.ecr.*.amazonaws.com/team/app`, `${ECR}/team/app`, true],
    [`*.dkr.ecr.*.amazonaws.com/team/app`, `${ECR}/other/app`, false],
    ["docker.io/***", "docker.io/a/b", true], // ** then * : as SQL, `.*[^/]*`
    ["docker.io/library/nginx", "DOCKER.IO/library/nginx", false], // case-sensitive; repositories are lower case
    ["a+b/(c)", "a+b/(c)", true], // regex metacharacters in a stored glob are literal
    ["a+b/(c)", "aab/c", false],
    ["[ab]/x", "a/x", false],
  ])("%s ~ %s → %s", (glob, repository, expected) => {
    expect(repositoryMatchesGlob(repository, glob)).toBe(expected);
  });

  // Issue 17 item 4: as a JavaScript RegExp (`.*[^/].*[^/]…z`) this glob backtracked exponentially on a name without
  // the final `z`: 16 s for 38 characters after the prefix on this machine, ×~4 for every 4 more, so the 64 below
  // would block the event loop for hours. The automaton answers at once, and answers right.
  const HOSTILE = "docker.io/redos/**?**?**?**?**?**?**?**?**?**?**?**?z";
  test.each<[string, boolean]>([
    [`docker.io/redos/${"a".repeat(64)}`, false],
    [`docker.io/redos/${"a/".repeat(32)}a`, false],
    [`docker.io/redos/${"a".repeat(64)}z`, true],
    [`docker.io/redos/${"a".repeat(11)}z`, false], // twelve `?` need twelve characters
    [`docker.io/redos/${"a".repeat(12)}z`, true],
    [`docker.io/redos/${"ab/".repeat(20)}z`, false], // the `?` before `z` cannot be a `/`
    [`docker.io/redos/${"ab/".repeat(20)}az`, true],
  ])("the hostile glob %#: %s → %s", (repository, expected) => {
    expect(repositoryMatchesGlob(repository, HOSTILE)).toBe(expected);
  });

  test("a glob of ten `*a` segments against a long name without a match answers false", () => {
    const glob = `docker.io/${"*a".repeat(10)}b`;
    expect(repositoryMatchesGlob(`docker.io/${"a".repeat(200)}`, glob)).toBe(false);
    expect(repositoryMatchesGlob(`docker.io/${"a".repeat(200)}b`, glob)).toBe(true);
  });
});

describe("isValidRepositoryGlob", () => {
  test.each<[string, boolean]>([
    ["docker.io/library/nginx", true],
    ["docker.io/**", true],
    ["**", true],
    ["*", true],
    ["registry:5000/team/app-?", true],
    [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/*`, true],
    ["a_b.c-d/e", true],
    ["a".repeat(255), true],
    ["a".repeat(256), false],
    ["", false],
    ["Docker.io/nginx", false], // upper case never matches a normalised repository
    ["docker.io//nginx", false],
    ["/docker.io/nginx", false],
    ["docker.io/nginx/", false],
    ["docker.io/nginx:1.0 ", false],
    ["docker.io/[ab]", false],
    ["docker.io/a+b", false],
    ["docker.io/nginx@sha256", false],
    ["docker.io\\nginx", false],
  ])("%j → %s", (glob, expected) => {
    expect(isValidRepositoryGlob(glob)).toBe(expected);
  });
});
