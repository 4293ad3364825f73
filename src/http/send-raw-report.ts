import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import type { Request, Response } from "express";

// Off the event loop: a stored report decodes to up to MAX_REPORT_BYTES, and lookups share this thread.
const gunzipAsync = promisify(gunzip);

/**
 * Sends a stored report as a JSON download: the stored gzip as is to clients that accept it, decoded for the others.
 * Shared by GET /v1/reports/{id}/raw and the dashboard's download link.
 */
export async function sendRawReport(req: Request, res: Response, reportId: string, gzipBytes: Buffer): Promise<void> {
  res.set("Content-Type", "application/json");
  res.set("Content-Disposition", `attachment; filename="report-${reportId}.json"`);
  if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    res.set("Content-Encoding", "gzip").set("Content-Length", String(gzipBytes.length)).end(gzipBytes);
  } else {
    const body = await gunzipAsync(gzipBytes);
    res.set("Content-Length", String(body.length)).end(body);
  }
}
