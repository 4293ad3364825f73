/**
 * CSV for the dashboard's exports (RFC 4180: comma-separated, CRLF line ends, quoted when needed). A cell that a
 * spreadsheet would read as a formula (starting with = + - @, a tab or a carriage return) gets a leading `'`, so a
 * repository or tag name from a report cannot run as one when the file is opened (OWASP "CSV injection").
 */
export function csvCell(value: string | number | boolean | Date | null | undefined): string {
  if (value === null || value === undefined) return "";
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: ReadonlyArray<string | number | boolean | Date | null | undefined>): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}
