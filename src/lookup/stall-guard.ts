import { performance } from "node:perf_hooks";

/**
 * Notices that this process stopped running for a while (SIGSTOP, a frozen VM or container, a long pause): the
 * change notifications of that time have not been read yet, so the caches may hold verdicts that a returned upload
 * replaced. A timer records that the event loop runs; a cache read that finds the last tick too old clears the
 * caches first and reads the database. Checked on the read itself, because after a resume the waiting requests may
 * be handled before any timer or notification.
 */
export class StallGuard {
  private lastTick = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly onStall: Array<() => void> = [];
  stalls = 0;

  constructor(
    private readonly tickMs = 200,
    /** A gap longer than this between ticks counts as a stall (kept well above normal event-loop lag). */
    private readonly stallMs = 1500,
  ) {}

  /** Runs `clear` whenever a stall is noticed (the caches to drop). */
  whenStalled(clear: () => void): void {
    this.onStall.push(clear);
  }

  start(): void {
    this.lastTick = performance.now();
    this.timer ??= setInterval(() => {
      this.check();
      this.lastTick = performance.now();
    }, this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** True when the caches may be used; false (after clearing them) when the process has just resumed from a stall. */
  check(): boolean {
    if (this.timer === null) return true;
    const now = performance.now();
    if (now - this.lastTick <= this.stallMs) return true;
    this.lastTick = now;
    this.stalls++;
    for (const clear of this.onStall) clear();
    return false;
  }
}
