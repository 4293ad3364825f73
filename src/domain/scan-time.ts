import { invalid, type DomainError } from "./errors";
import type { ReportFormat } from "./severity";

/**
 * How far a report's scan time may lie ahead of its receipt: the clocks of CI runners and of the registry drift a
 * little. A scan time later than that cannot be true, and taken as true it would keep that report current (the
 * newest scan wins) and its verdict fresh (max_scan_age_days) forever, whatever is scanned after it.
 */
const MAX_SCAN_CLOCK_SKEW_MS = 5 * 60_000;

/** Where each format says when it scanned, for the error's path. */
const SCANNED_AT_FIELD: Record<ReportFormat, string> = {
  trivy: "body.CreatedAt",
  sarif: "body",
  cyclonedx: "body.metadata.timestamp",
  "trivy-operator": "body.report.updateTimestamp",
  ecr: "imageScanFindings.imageScanCompletedAt",
};

/** The refusal for a report that claims to be scanned after it was received (plus the skew); null when it is fine. */
export function futureScanRefusal(format: ReportFormat, scannedAt: Date | null, receivedAt: Date): DomainError | null {
  if (scannedAt === null || scannedAt.getTime() <= receivedAt.getTime() + MAX_SCAN_CLOCK_SKEW_MS) return null;
  return invalid(
    "scanned_in_future",
    `The report says it was scanned at ${scannedAt.toISOString()}, after it arrived (${receivedAt.toISOString()}) by more than ` +
      "the 5 minutes of clock difference allowed. Check the clock of the machine that ran the scan, and scan again.",
    [{ path: SCANNED_AT_FIELD[format], message: `must not be later than ${new Date(receivedAt.getTime() + MAX_SCAN_CLOCK_SKEW_MS).toISOString()}` }],
  );
}
