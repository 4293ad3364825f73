import { createGunzip, createInflate } from "node:zlib";
import type { Request } from "express";
import { DomainError, badRequest } from "../domain/errors";
import { assertJsonDepth, bodyCeilingOf, MAX_JSON_DEPTH } from "./hardening";
import { parseJsonIncrementally } from "./incremental-json";
import { asciiJsonText } from "./json-text";

export interface ReadBodyOptions {
  /** The variable that sets the limit (MAX_REPORT_BYTES), named in the 413, if one does. */
  limitSetting?: string;
  /** Sees every decoded chunk as it arrives, in order (to hash or compress the body while it is still arriving). */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * Bodies the lookup fast path (src/http/lookup-fast-path.ts) read before handing a request to Express: readBody
 * returns them, after the same limit checks, instead of reading the (consumed) stream again.
 */
const preReadBodies = new WeakMap<object, Buffer>();

export function setPreReadBody(req: object, body: Buffer): void {
  preReadBodies.set(req, body);
}

/**
 * Reads a request body into one Buffer, decoding gzip/deflate, and refuses it (413) as soon as either the bytes on
 * the wire or the decoded bytes pass `limit`: counted while streaming, so an oversized or gzip-bomb upload is never
 * held in memory whole.
 */
export async function readBody(req: Request, routeLimit: number, options: ReadBodyOptions = {}): Promise<Buffer> {
  const { onChunk } = options;
  const ceiling = req.res ? bodyCeilingOf(req.res) : undefined;
  const [limit, limitSetting] = ceiling !== undefined && ceiling < routeLimit ? [ceiling, "MAX_JSON_BODY_BYTES"] : [routeLimit, options.limitSetting];
  const tooLarge = () =>
    new DomainError(
      "too_large",
      "payload_too_large",
      `The request body is larger than the limit of ${limit} bytes${limitSetting ? ` (${limitSetting})` : ""}.`,
      undefined,
      { limit_bytes: limit },
    );
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  const preRead = preReadBodies.get(req);
  if (preRead) {
    preReadBodies.delete(req);
    if (preRead.length > limit) throw tooLarge();
    onChunk?.(preRead);
    return preRead;
  }
  const encoding = String(req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  let stream: NodeJS.ReadableStream = req;
  if (encoding === "gzip" || encoding === "x-gzip") stream = req.pipe(createGunzip());
  else if (encoding === "deflate") stream = req.pipe(createInflate());
  else if (encoding !== "identity" && encoding !== "") {
    req.resume();
    throw new DomainError("unsupported", "unsupported_encoding", `Content-Encoding ${encoding} is not supported; send gzip or no encoding.`);
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    let decoded = 0;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe();
      req.resume();
      reject(error);
    };
    if (stream !== req) {
      req.on("data", (chunk: Buffer) => {
        wire += chunk.length;
        if (wire > limit) fail(tooLarge());
      });
    }
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      decoded += chunk.length;
      if (decoded > limit) return fail(tooLarge());
      chunks.push(chunk);
      onChunk?.(chunk);
    });
    stream.on("error", (error: Error & { code?: string }) =>
      fail(error.code?.startsWith("Z_") ? badRequest("invalid_encoding", `The body is not valid ${encoding}: ${error.message}`) : error),
    );
    req.on("aborted", () => fail(badRequest("aborted", "The client closed the connection before the body was complete.")));
    req.on("close", () => {
      if (!req.complete) fail(badRequest("aborted", "The client closed the connection before the body was complete."));
    });
    stream.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, decoded));
    });
  });
}

const invalidJson = (error: unknown) => badRequest("invalid_json", `The request body is not valid JSON: ${(error as Error).message}`);

/**
 * Parses JSON from bytes; a clear 400 for an empty body, bad syntax or nesting deeper than `maxDepth` (reports pass
 * Infinity: scanning 50 MB would double the parse time, and their decoders read fixed paths). A UTF-8 BOM
 * (PowerShell's Out-File) is tolerated.
 */
export function parseJson(bytes: Buffer, maxDepth: number = MAX_JSON_DEPTH): unknown {
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const plainText = () => body.toString("utf8");
  const ascii = asciiJsonText(body);
  const text = ascii ?? plainText();
  const start = text.trimStart();
  // A body of Unicode whitespace only (U+3000, ...) is empty too, as it was before non-ASCII characters were escaped.
  if (start === "" || (start.startsWith("\\u") && plainText().trim() === "")) {
    throw badRequest("empty_body", "The request body is empty; send a JSON document.");
  }
  if (Number.isFinite(maxDepth)) assertJsonDepth(text, maxDepth);
  try {
    return JSON.parse(text);
  } catch (error) {
    // An escaped text is parsed again as sent, so that the message counts positions in the characters the client
    // wrote.
    if (ascii === null) throw invalidJson(error);
  }
  try {
    return JSON.parse(plainText());
  } catch (error) {
    throw invalidJson(error);
  }
}

/** Reports smaller than this are always parsed by JSON.parse. */
export const INCREMENTAL_PARSE_BYTES = 8 * 1024 * 1024;
/**
 * JSON.parse's time follows the number of values, not the bytes: a 27 MB report of 10,000 findings with long
 * descriptions parses in ~90 ms, while 44 MB of 1,000,000 tiny findings held the thread for seconds. The incremental
 * parser is ~6 times slower, so it is kept for documents with this many objects or more.
 */
export const INCREMENTAL_PARSE_OBJECTS = 100_000;

/**
 * Whether a report body is dense enough in objects that JSON.parse would hold the event loop for long. Counts `{`
 * bytes with the native indexOf (a few milliseconds for 30 MB), braces inside strings included, which only errs
 * towards the incremental parser.
 */
export function needsIncrementalParse(bytes: Buffer): boolean {
  if (bytes.length < INCREMENTAL_PARSE_BYTES) return false;
  let objects = 0;
  for (let at = bytes.indexOf(0x7b); at !== -1; at = bytes.indexOf(0x7b, at + 1)) {
    if (++objects >= INCREMENTAL_PARSE_OBJECTS) return true;
  }
  return false;
}

/**
 * parseJson for report uploads (no depth limit unless `maxDepth` is given), without holding the event loop for
 * seconds: a large body dense in objects (needsIncrementalParse) is parsed a slice at a time, so lookups keep being
 * answered meanwhile.
 */
export async function parseReportJson(bytes: Buffer, maxDepth = Infinity): Promise<unknown> {
  if (!needsIncrementalParse(bytes)) return parseJson(bytes, maxDepth);
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const text = asciiJsonText(body) ?? body.toString("utf8");
  if (text.trim() === "") throw badRequest("empty_body", "The request body is empty; send a JSON document.");
  if (Number.isFinite(maxDepth)) assertJsonDepth(text, maxDepth);
  try {
    return await parseJsonIncrementally(text);
  } catch (error) {
    throw invalidJson(error);
  }
}
