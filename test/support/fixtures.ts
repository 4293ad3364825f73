/**
 * Real Trivy reports shared by the team (see /work/shared/fixtures/trivy/SOURCES.md), read from disk as they are.
 * They live next to the repository (`<repo>/../shared/fixtures/trivy`); env FIXTURES_DIR overrides the location.
 */
import * as fs from "fs";
import * as path from "path";

const REPO_ROOT = path.resolve(__dirname, "../..");

export const FIXTURES_DIR = process.env.FIXTURES_DIR
  ? path.resolve(process.env.FIXTURES_DIR)
  : path.resolve(REPO_ROOT, "../shared/fixtures/trivy");

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
