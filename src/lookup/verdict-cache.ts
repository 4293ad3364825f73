import type { ComplianceStatus, Reason } from "../domain/verdict";

/** A compliance answer ready to send: the object and its serialised JSON. */
export interface CachedAnswer {
  answer: ComplianceAnswer;
  /**
   * The JSON as a string, which is what lookups send: node:http writes a string body together with the header
   * block in one write(), where a Buffer body costs a separate writev() entry (the profile's largest item).
   */
  text: string;
  /** Its length in UTF-8 bytes: the Content-Length. */
  byteLength: number;
  /** The verdict stops holding at this instant (exception expiry, scan age); null = until invalidated. */
  validUntil: number | null;
  loadedAt: number;
}

/**
 * A compliance lookup's answer, as the API sends it (src/http/schemas.ts's complianceAnswerSchema describes it and is
 * checked against this type) and the CLI reads it: the one definition of this row.
 */
export interface ComplianceAnswer {
  image_digest: string | null;
  is_compliant: boolean;
  status: ComplianceStatus;
  reason: string;
  reasons: Reason[];
  repository: string | null;
  scanned_at: string | null;
  evaluated_at: string;
  policy_version: number;
}

/**
 * In-process verdict cache keyed by digest, bounded by entry count (least recently set evicted first). Entries
 * expire at the verdict's own valid_until and after `maxAgeMs` at most, which bounds staleness if a change
 * notification is lost. `generation` rises on every invalidation, so a load that raced an invalidation is not cached.
 */
export class VerdictCache {
  private readonly entries = new Map<string, CachedAnswer>();
  generation = 0;
  /** Off while change notifications cannot be heard (listener disconnected): every lookup then reads the database. */
  enabled = false;
  hits = 0;
  /**
   * Lookups that read the database. Counted by the loader (ComplianceLookup), not by get(): the lookup fast path
   * probes the cache before Express does, and a miss there is looked up again by the Express route.
   */
  misses = 0;
  /** Set by the composition root: a read after the process stood still clears the cache first (src/lookup/stall-guard.ts). */
  stallCheck: (() => boolean) | null = null;

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs = 30_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * `count` = false leaves `hits` alone: the batch fast path probes every image and counts the hits only when it
   * answers them all (else the Express route looks them up again and counts them).
   */
  get(digest: string, nowMs: number, count = true): CachedAnswer | null {
    if (this.stallCheck !== null && !this.stallCheck()) return null;
    const entry = this.enabled ? this.entries.get(digest) : undefined;
    if (!entry || (entry.validUntil !== null && entry.validUntil <= nowMs) || nowMs - entry.loadedAt > this.maxAgeMs) {
      if (entry) this.entries.delete(digest);
      return null;
    }
    if (count) this.hits++;
    return entry;
  }

  /** Stores an entry unless an invalidation happened since `generationAtLoad` was read. */
  set(digest: string, entry: CachedAnswer, generationAtLoad: number): void {
    if (!this.enabled || this.maxEntries === 0 || generationAtLoad !== this.generation) return;
    // Re-set keys move to the end (Map keeps insertion order), and never evict another entry to make room.
    this.entries.delete(digest);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(digest, entry);
  }

  invalidate(digests: readonly string[]): void {
    this.generation++;
    for (const d of digests) this.entries.delete(d);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
