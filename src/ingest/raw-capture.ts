import crypto from "node:crypto";
import { maskAsSplice } from "./masked-splice";
import { promisify } from "node:util";
import { constants, createGzip, gzip } from "node:zlib";

const gzipAsync = promisify(gzip);

/**
 * Fastest zlib level: on a 27 MB report level 1 takes ~190 ms of CPU against ~355 ms for the default level 6, for
 * a copy ~25% larger (4.1 MB against 3.2 MB). The raw copy is written on every upload and read rarely, and on a
 * small machine compression competes with PostgreSQL for a core while the upload is being stored.
 */
const RAW_GZIP = {
  level: constants.Z_BEST_SPEED,
  // zlib hands each full output chunk back to the main thread before compressing on; with 4 MB chunks instead of
  // 16 kB a large report is compressed in one or two thread-pool jobs rather than waiting between hundreds of them
  // for a thread that is busy parsing.
  chunkSize: 4 * 1024 * 1024,
};

/** What ingest stores about the uploaded bytes themselves: their SHA-256 (the duplicate key) and a gzip copy. */
export interface CapturedRaw {
  sha256: string;
  /** The gzip of the bytes, compressed on libuv's thread pool; started at capture unless the copy may be masked. */
  gzipped: () => Promise<Buffer>;
}

function compressInBackground(bytes: Buffer): Promise<Buffer> {
  const gzipped = gzipAsync(bytes, RAW_GZIP);
  gzipped.catch(() => undefined); // awaited later, or never when the upload is refused
  return gzipped;
}

/**
 * Byte strings without which src/formats/mask-secrets.ts finds nothing to mask (Trivy's Secrets and suppressed findings, the operator's
 * ExposedSecretReport, SARIF runs). Bytes holding none are compressed at once; the others only once ingest knows
 * whether it stores them or a masked copy, so a 27 MB report with secrets is not compressed twice (~0.2 s of CPU).
 */
const MASKABLE_MARKERS = ['"Secrets"', '"ExperimentalModifiedFindings"', "ExposedSecretReport", '"runs"'].map((m) => Buffer.from(m));

function compression(bytes: Buffer): () => Promise<Buffer> {
  let started: Promise<Buffer> | null = MASKABLE_MARKERS.some((m) => bytes.includes(m)) ? null : compressInBackground(bytes);
  return () => (started ??= compressInBackground(bytes));
}

/** For bytes already in memory (Trivy Operator webhook, ECR import): hash now, compress in the background. */
export function captureRaw(bytes: Buffer): CapturedRaw {
  return { sha256: crypto.createHash("sha256").update(bytes).digest("hex"), gzipped: compression(bytes) };
}

/** What is stored as the report's raw copy (scan_report_raw): its uncompressed size and the gzip of it. */
export interface StoredCopy {
  /** The copy's uncompressed size and its gzip, compressed off the request's critical path. */
  written: Promise<{ byteSize: number; gzipped: Buffer }>;
  /** How many secret findings had their context (match, code lines) masked; 0 = the bytes as uploaded. */
  masked: number;
}

/**
 * The copy to store: the uploaded bytes, unless the report has secret findings whose context (Trivy's Match and
 * Code.Lines, the operator's match, SARIF's "Match:" line) shows text of the file the secret is in; then the JSON
 * with that text masked (src/formats/mask-secrets.ts), re-serialised. The report's SHA-256 stays the one of the
 * uploaded bytes, so the same upload again is still a duplicate. `parsed` is JSON.parse's value of exactly `bytes`,
 * given up by the caller (it is changed).
 */
export function storedCopy(bytes: Buffer, captured: CapturedRaw, hasSecrets: boolean, parsed?: { document: unknown }): StoredCopy {
  if (hasSecrets) {
    // The caller's parse of these bytes, when it hands it over, is masked in place: parsing 27 MB again cost ~100 ms.
    const doc: unknown = parsed ? parsed.document : JSON.parse(bytes.toString("utf8"));
    if (parsed) parsed.document = undefined; // the caller gave it up; let it go as soon as the copy is made
    // Only the Results entries that held secret text are re-serialised when the document allows it (masked-splice.ts).
    const { masked, pieces } = maskAsSplice(bytes, doc);
    if (masked > 0) {
      const written = pieces ? gzipPieces(pieces) : gzipJson(doc);
      written.catch(() => undefined); // awaited later, or never when the upload is refused
      return { written, masked };
    }
  }
  const gzipped = captured.gzipped();
  return { written: gzipped.then((g) => ({ byteSize: bytes.length, gzipped: g })), masked: 0 };
}

/**
 * Hashes an upload chunk by chunk while it arrives, and compresses it the moment the last chunk is in (unless its copy
 * may be masked: MASKABLE_MARKERS), in large
 * thread-pool jobs (a zlib stream fed chunk by chunk would need this thread between chunks, and this thread is busy
 * parsing the JSON), so the ~0.2 s of compression for a 27 MB report runs on another core during parse and decode
 * instead of competing with PostgreSQL for one during the writes.
 */
export class RawCapture {
  private readonly hash = crypto.createHash("sha256");

  write(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  /** Call once with the whole body, after every chunk was written. */
  finish(body: Buffer): CapturedRaw {
    return { sha256: this.hash.digest("hex"), gzipped: compression(body) };
  }
}

/**
 * The concatenation of `pieces` (views of the upload, or a generator's output) written into gzip without joining them
 * first; a generator is asked for its next piece only once gzip has taken the last one.
 */
export async function gzipPieces(pieces: Iterable<Buffer>): Promise<{ gzipped: Buffer; byteSize: number }> {
  const gz = createGzip(RAW_GZIP);
  const out: Buffer[] = [];
  gz.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    gz.once("end", resolve);
    gz.once("error", reject);
  });
  let byteSize = 0;
  for (const piece of pieces) {
    byteSize += piece.length;
    if (piece.length > 0 && !gz.write(piece)) await new Promise<void>((resolve) => gz.once("drain", resolve));
  }
  gz.end();
  await ended;
  return { gzipped: Buffer.concat(out), byteSize };
}

/** Pieces of about this many characters are serialised, converted and compressed at a time. */
const PIECE_CHARACTERS = 256 * 1024;

/**
 * JSON.stringify(doc) written into gzip a piece at a time: the whole text of a 50 MB report, and its Buffer, never
 * exist at once (they took the peak RSS of a 50 MB upload with secrets past the 512 MiB pod limit). The same bytes
 * as JSON.stringify: containers down to a few levels are walked here, everything below them is JSON.stringify's.
 */
export function gzipJson(doc: unknown): Promise<{ gzipped: Buffer; byteSize: number }> {
  return gzipPieces(jsonBuffers(doc));
}

function* jsonBuffers(doc: unknown): Generator<Buffer> {
  let pending = "";
  for (const piece of jsonPieces(doc, 5)) {
    pending += piece;
    if (pending.length >= PIECE_CHARACTERS) {
      yield Buffer.from(pending, "utf8");
      pending = "";
    }
  }
  yield Buffer.from(pending, "utf8");
}

function* jsonPieces(value: unknown, depth: number): Generator<string> {
  if (depth > 0 && Array.isArray(value)) {
    yield "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ",";
      const item: unknown = value[i];
      if (item === undefined || typeof item === "function" || typeof item === "symbol") yield "null";
      else yield* jsonPieces(item, depth - 1);
    }
    yield "]";
    return;
  }
  if (depth > 0 && typeof value === "object" && value !== null && typeof (value as { toJSON?: unknown }).toJSON !== "function") {
    const object = value as Record<string, unknown>;
    yield "{";
    let first = true;
    for (const key of Object.keys(object)) {
      const item = object[key];
      if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
      yield (first ? "" : ",") + JSON.stringify(key) + ":";
      first = false;
      yield* jsonPieces(item, depth - 1);
    }
    yield "}";
    return;
  }
  yield JSON.stringify(value) ?? "null";
}
