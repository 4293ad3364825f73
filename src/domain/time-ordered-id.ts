import crypto from "node:crypto";

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits. Report IDs are these so that
 * IDs follow receipt order: a report's findings are stored together, in receipt order, so findings.report_id then
 * correlates with the table's physical order and PostgreSQL's planner prices "the findings of these reports" (every
 * current_findings question) as the few pages it reads, instead of a scan of the whole history.
 */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  const bytes = crypto.randomBytes(16);
  const ms = BigInt(Math.max(0, Math.floor(nowMs)));
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
