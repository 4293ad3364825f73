import type { Severity } from "./severity";

export const STATUSES = ["compliant", "non_compliant", "not_scanned", "stale"] as const;
export type ComplianceStatus = (typeof STATUSES)[number];

const REASON_CODES = [
  "severity_threshold",
  "secret_found",
  "misconfiguration",
  "stale_scan",
  "not_scanned",
  "unscanned_allowed",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Why a verdict is what it is; `ids` names the first few findings that caused it, `total` how many there are. */
export interface Reason {
  code: ReasonCode;
  message: string;
  severity?: Severity;
  count?: number;
  limit?: number;
  ids?: string[];
  total?: number;
  scanned_at?: string;
  max_age_days?: number;
}

export interface Verdict {
  isCompliant: boolean;
  status: ComplianceStatus;
  reasons: Reason[];
  /** The verdict holds until this instant (an exception expires, the scan becomes stale); null = until something changes. */
  validUntil: Date | null;
}
