/**
 * Five replicas (`node dist/main.js serve`) on one database; one of them frozen with SIGSTOP for 30 s. Uploads to the
 * others keep returning within the documented bound (they wait at most 2 s for replicas' acknowledgements,
 * docs/operations.md "Running N replicas"), and once the frozen replica resumes it never answers a verdict older than
 * an upload that had returned — neither for the lookups it received while frozen nor for those after.
 */
import fs from "node:fs";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { TEST_ADMIN_TOKEN } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { startServeProcess, type ServeProcess } from "../support/serve-process";

jest.setTimeout(240_000);

const MAIN = path.resolve(__dirname, "../../dist/main.js");
const AUTH = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
/** The acknowledgement wait (2 s) plus generous room for ingest on a loaded machine; far below the 30 s freeze. */
const UPLOAD_BOUND_MS = 12_000;

type Replica = ServeProcess;

const serve = (database: TestDatabase): Promise<Replica> => startServeProcess({ DATABASE_URL: database.url, DB_POOL_SIZE: "4" });

const DIGEST = fakeDigest("frozen-replica");

/** A scan of DIGEST at `scannedAt`: with a CRITICAL finding (refused under the test's policy) or without. */
function report(scannedAt: Date, critical: boolean): string {
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: scannedAt.toISOString(),
    ArtifactName: "registry.example.com/topology/app:1",
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/topology/app@${DIGEST}`], RepoTags: ["registry.example.com/topology/app:1"] },
    Results: [
      {
        Target: "app",
        Class: "os-pkgs",
        Type: "alpine",
        Vulnerabilities: [{ VulnerabilityID: "CVE-2099-0001", PkgName: "libfoo", InstalledVersion: "1.0", Severity: critical ? "CRITICAL" : "LOW" }],
      },
    ],
  });
}

interface Verdict {
  scanned_at: string;
  is_compliant: boolean;
}

async function lookUp(replica: Replica): Promise<Verdict> {
  const res = await fetch(`${replica.url}/v1/images/${DIGEST}/compliance`, { headers: AUTH });
  expect(res.status).toBe(200);
  return (await res.json()) as Verdict;
}

let database: TestDatabase;
const replicas: Replica[] = [];
let scans = 0;
const base = Date.now() - 3_600_000;

/** Uploads the next scan (alternating verdicts) to `replica`; returns its scan time, verdict and how long it took. */
async function uploadNext(replica: Replica): Promise<{ scannedAt: string; compliant: boolean; ms: number }> {
  scans++;
  const scannedAt = new Date(base + scans * 1000);
  const critical = scans % 2 === 0;
  const started = Date.now();
  const res = await fetch(`${replica.url}/v1/reports`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: report(scannedAt, critical) });
  const body = (await res.json()) as { images: Array<{ is_compliant: boolean }> };
  expect(res.status).toBe(201);
  expect(body.images[0]!.is_compliant).toBe(!critical);
  return { scannedAt: scannedAt.toISOString(), compliant: !critical, ms: Date.now() - started };
}

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error("dist is missing: run `npm run build` first");
  database = await createTestDatabase();
  for (let i = 0; i < 5; i++) replicas.push(await serve(database));
  const res = await fetch(`${replicas[0]!.url}/v1/policy`, { method: "PUT", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ max_severity_counts: { CRITICAL: 0 } }) });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  for (const r of replicas) {
    r.process.kill("SIGCONT");
    r.process.kill("SIGKILL");
  }
  await Promise.all(replicas.map((r) => new Promise<void>((resolve) => (r.process.exitCode !== null || r.process.signalCode !== null ? resolve() : r.process.once("exit", () => resolve())))));
  await database?.drop();
});

/**
 * Freezes replica 4 for `freezeMs` while uploads go to replicas 0–3; a lookup is sent to the frozen one midway.
 * Returns what the test checks.
 */
async function freezeWhileUploading(freezeMs: number) {
  const frozen = replicas[4]!;
  const others = replicas.slice(0, 4);
  // Every replica has the current verdict cached.
  await uploadNext(others[0]!);
  for (const r of replicas) {
    await lookUp(r);
    await lookUp(r);
  }
  frozen.process.kill("SIGSTOP");
  const frozenAt = Date.now();
  const uploads: Array<{ scannedAt: string; compliant: boolean; ms: number; returnedAt: number }> = [];
  let pending: { sentAfter: number; answer: Promise<Verdict> } | null = null;
  let i = 0;
  while (Date.now() - frozenAt < freezeMs) {
    const u = await uploadNext(others[i++ % others.length]!);
    uploads.push({ ...u, returnedAt: Date.now() });
    if (!pending && Date.now() - frozenAt > freezeMs / 2) pending = { sentAfter: uploads.length, answer: lookUp(frozen) };
  }
  frozen.process.kill("SIGCONT");
  const afterResume: Verdict[] = [];
  for (let k = 0; k < 20; k++) afterResume.push(await lookUp(frozen));
  return { uploads, pending: pending ? { sentAfter: pending.sentAfter, answer: await pending.answer } : null, afterResume };
}

test("when one of five replicas is frozen for 30 s, then uploads to the others return within the bound, and after it resumes it never answers a verdict older than a returned upload", async () => {
  const { uploads, pending, afterResume } = await freezeWhileUploading(30_000);
  expect(uploads.length).toBeGreaterThan(3);
  expect(Math.max(...uploads.map((u) => u.ms))).toBeLessThan(UPLOAD_BOUND_MS);
  const last = uploads[uploads.length - 1]!;
  // The lookup sent while it was frozen: at least as new as every upload that had returned before it was sent.
  expect(pending).not.toBeNull();
  const newestBeforeLookup = uploads[pending!.sentAfter - 1]!;
  expect(pending!.answer.scanned_at >= newestBeforeLookup.scannedAt).toBe(true);
  // After the resume: the last upload's verdict, every time.
  for (const v of afterResume) {
    expect(v.scanned_at).toBe(last.scannedAt);
    expect(v.is_compliant).toBe(last.compliant);
  }
});

test("when it is frozen for a shorter time than the caches' 30 s age limit, then it still answers the newest verdict at once after resuming", async () => {
  const { uploads, pending, afterResume } = await freezeWhileUploading(6_000);
  const last = uploads[uploads.length - 1]!;
  expect(Math.max(...uploads.map((u) => u.ms))).toBeLessThan(UPLOAD_BOUND_MS);
  if (pending) expect(pending.answer.scanned_at >= uploads[pending.sentAfter - 1]!.scannedAt).toBe(true);
  for (const v of afterResume) {
    expect(v.scanned_at).toBe(last.scannedAt);
    expect(v.is_compliant).toBe(last.compliant);
  }
});
