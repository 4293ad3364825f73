import { maskSecretContext } from "../formats/mask-secrets";

/**
 * The masked copy of a Trivy JSON report as the uploaded bytes with only the `Results` entries whose secret text was
 * masked re-serialised. Re-serialising the whole document instead (gzipJson) cost ~1 s per 27 MB, 10,000-finding
 * report on the bench machine for the one secret finding of juice-shop (node --cpu-prof of the service:
 * jsonPieces, Buffer.from and the gzip stream were ~0.4 s of the main thread per upload), on the upload's critical
 * path; locating the entries in the bytes is one pass that jumps over strings with the native indexOf.
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const RESULTS_KEY = Buffer.from("Results");

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The index of the quote closing the string that opens at `open`, or -1. */
function stringEnd(bytes: Buffer, open: number): number {
  let j = bytes.indexOf(QUOTE, open + 1);
  while (j !== -1) {
    let backslashes = 0;
    while (bytes[j - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j;
    j = bytes.indexOf(QUOTE, j + 1);
  }
  return -1;
}

/**
 * Byte ranges [start, end) of the elements of the top-level object's `Results` array (the last such key, as
 * JSON.parse keeps the last), or null when the bytes are not plainly that: not an object, a top-level key written with
 * escapes (it could spell Results), `Results` not an array, or not well-formed for this scan. Bytes JSON.parse
 * accepted are assumed; null only makes the caller re-serialise the whole document.
 */
export function resultsElementRanges(bytes: Buffer): Array<[number, number]> | null {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && isWhitespace(bytes[i]!)) i++;
  if (bytes[i] !== 0x7b) return null;
  let depth = 0;
  let keyNext = false;
  let resultsValueNext = false;
  let recording = false;
  let current: Array<[number, number]> = [];
  let found: Array<[number, number]> | null = null;
  let elementStart = -1;
  let elementEnd = -1;
  const touch = (from: number, to: number) => {
    if (elementStart === -1) elementStart = from;
    elementEnd = to;
  };
  for (; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (isWhitespace(c)) continue;
    if (c === QUOTE) {
      const end = stringEnd(bytes, i);
      if (end === -1) return null;
      if (depth === 1 && keyNext) {
        const key = bytes.subarray(i + 1, end);
        if (key.includes(BACKSLASH)) return null;
        resultsValueNext = key.equals(RESULTS_KEY);
        keyNext = false;
      } else if (depth === 1 && resultsValueNext) {
        resultsValueNext = false;
        found = null; // the last Results is a string
      } else if (recording && depth === 2) {
        touch(i, end + 1);
      }
      i = end;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (depth === 1 && resultsValueNext) {
        resultsValueNext = false;
        if (c === 0x5b) {
          recording = true;
          current = [];
          elementStart = -1;
        } else found = null;
      } else if (recording && depth === 2) touch(i, i + 1);
      depth++;
      if (depth === 1) keyNext = true;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      depth--;
      if (recording && depth === 1) {
        if (elementStart !== -1) current.push([elementStart, elementEnd]);
        recording = false;
        found = current;
      } else if (recording && depth === 2) elementEnd = i + 1;
      if (depth === 0) break;
      continue;
    }
    if (c === 0x2c) {
      if (depth === 1) keyNext = true;
      else if (recording && depth === 2) {
        if (elementStart === -1) return null;
        current.push([elementStart, elementEnd]);
        elementStart = -1;
      }
      continue;
    }
    if (c === 0x3a) continue;
    // A number or a literal.
    if (depth === 1 && resultsValueNext) {
      resultsValueNext = false;
      found = null;
    } else if (recording && depth === 2) touch(i, i + 1);
  }
  return depth === 0 ? found : null;
}

/** A masked copy as pieces to write in order: uploaded bytes and re-serialised entries. */
export interface MaskedCopy {
  masked: number;
  /** The copy's pieces, or null when the whole (masked) document must be re-serialised. */
  pieces: Buffer[] | null;
}

/**
 * Masks `doc` (JSON.parse's value of exactly `bytes`) in place, as maskSecretContext does, and when it is a Trivy
 * report whose masked text lies only inside `Results` entries, returns the copy as the uploaded bytes with just those
 * entries re-serialised: JSON.parse of it equals the masked document.
 */
export function maskAsSplice(bytes: Buffer, doc: unknown): MaskedCopy {
  const trivy =
    isObject(doc) &&
    Array.isArray(doc.Results) &&
    !Array.isArray(doc.Secrets) &&
    doc.kind !== "ExposedSecretReport" &&
    !(Array.isArray(doc.runs) && typeof doc.version === "string");
  if (!trivy) return { masked: maskSecretContext(doc), pieces: null };
  const results = doc.Results as unknown[];
  let masked = 0;
  let elsewhere = 0;
  for (const key in doc) {
    const value = doc[key];
    if (key !== "Results" && typeof value === "object" && value !== null) elsewhere += maskSecretContext(value);
  }
  const changed: number[] = [];
  for (let k = 0; k < results.length; k++) {
    const n = maskSecretContext(results[k]);
    if (n > 0) changed.push(k);
    masked += n;
  }
  masked += elsewhere;
  if (masked === 0 || elsewhere > 0) return { masked, pieces: null };
  const ranges = resultsElementRanges(bytes);
  if (!ranges || ranges.length !== results.length) return { masked, pieces: null };
  const pieces: Buffer[] = [];
  let copiedTo = 0;
  for (const k of changed) {
    const [start, end] = ranges[k]!;
    pieces.push(bytes.subarray(copiedTo, start), Buffer.from(JSON.stringify(results[k]), "utf8"));
    copiedTo = end;
  }
  pieces.push(bytes.subarray(copiedTo));
  return { masked, pieces };
}
