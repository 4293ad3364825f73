import type { Response } from "express";
import { csvLine } from "./csv";

export type ExportFormat = "csv" | "json";
type Cell = string | number | boolean | Date | null | undefined;

/** The export format a page's `?format=` asks for, or undefined for the page itself. */
export function exportFormat(value: string | undefined): ExportFormat | undefined {
  return value === "csv" || value === "json" ? value : undefined;
}

/** What one export writes: its columns (API field names) and each row's values in that order. */
export interface ExportSpec<R> {
  /** The file name's start: `<name>-YYYY-MM-DD.csv`. */
  name: string;
  columns: readonly string[];
  values(row: R): readonly (Cell | readonly string[])[];
}

/**
 * Streams an export as it is read: the headers first, then each batch that `stream` hands over is written before
 * the next is fetched, waiting for the client to drain; a client that goes away stops the read. CSV: RFC 4180 with
 * formula-like cells defused (csv.ts), arrays joined by spaces. JSON: one array of objects keyed by the columns,
 * arrays kept as arrays and times in ISO 8601. A failure after the headers were sent ends the response unfinished
 * (the file is then visibly cut: no closing `]`), never a 200 that looks complete.
 */
export async function sendExport<R>(
  res: Response,
  format: ExportFormat,
  now: Date,
  spec: ExportSpec<R>,
  stream: (onBatch: (rows: R[]) => Promise<boolean>) => Promise<void>,
): Promise<void> {
  let closed = false;
  res.on("close", () => (closed = true));
  const day = now.toISOString().slice(0, 10);
  res.status(200).set({
    "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
    "Content-Disposition": `attachment; filename="${spec.name}-${day}.${format}"`,
  });
  const write = async (chunk: string) => {
    if (chunk && !res.write(chunk)) await new Promise<void>((resolve) => (res.once("drain", resolve), res.once("close", resolve)));
  };
  let first = true;
  await write(format === "csv" ? csvLine([...spec.columns]) : "[");
  try {
    await stream(async (rows) => {
      if (closed) return false;
      const chunk =
        format === "csv"
          ? rows.map((r) => csvLine(spec.values(r).map((v) => (Array.isArray(v) ? v.join(" ") : (v as Cell))))).join("")
          : rows
              .map((r) => {
                const values = spec.values(r);
                const object = Object.fromEntries(spec.columns.map((c, i) => [c, values[i] ?? null]));
                const text = `${first ? "\n" : ",\n"}${JSON.stringify(object)}`;
                first = false;
                return text;
              })
              .join("");
      await write(chunk);
      return !closed;
    });
  } catch (error) {
    res.destroy(error as Error);
    throw error;
  }
  if (format === "json") await write(first ? "]\n" : "\n]\n");
  res.end();
}
