/**
 * Real Trivy reports shared by the team (see /work/shared/fixtures/trivy/SOURCES.md), read from disk as they are.
 * They live next to the repository (`<repo>/../shared/fixtures/trivy`). A clone made elsewhere (`git clone .
 * "$(mktemp -d)"`) finds them next to the repository it was cloned from (its local `origin`). FIXTURES_DIR
 * overrides both.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const REPO_ROOT = path.resolve(__dirname, "../..");
const BESIDE = "../shared/fixtures/trivy";

/** The places looked at, in order; the first that exists is used. */
export function fixtureDirCandidates(): string[] {
  if (process.env.FIXTURES_DIR) return [path.resolve(process.env.FIXTURES_DIR)];
  const candidates = [path.resolve(REPO_ROOT, BESIDE)];
  const origin = spawnSync("git", ["-C", REPO_ROOT, "config", "--get", "remote.origin.url"], { encoding: "utf8" }).stdout?.trim();
  // Only a local origin (a path or file:// URL) has a directory beside it on this machine.
  if (origin && (origin.startsWith("file://") || !/^[\w+.-]+:\/\/|^[^/]+@[^:]+:/.test(origin))) {
    candidates.push(path.resolve(REPO_ROOT, origin.replace(/^file:\/\//, ""), BESIDE));
  }
  return candidates;
}

export const FIXTURES_DIR = ((candidates) => candidates.find((dir) => fs.existsSync(dir)) ?? candidates[0]!)(fixtureDirCandidates());

/** The fixture's bytes, exactly as stored. */
export function readFixture(name: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES_DIR, name));
}

/** The fixture parsed as JSON: a fresh copy on every call, so tests may mutate it freely. */
export function readFixtureJson<T = any>(name: string): T {
  return JSON.parse(readFixture(name).toString("utf8")) as T;
}

/** Names of the fixture files (everything but the SOURCES.md description). */
export function fixtureNames(): string[] {
  return fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith(".json") || f.endsWith(".golden")).sort();
}
