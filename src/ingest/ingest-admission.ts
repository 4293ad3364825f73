import { DomainError } from "../domain/errors";

/**
 * Working memory of an ingest, per byte of the decoded report: the body, the parsed JSON tree, the validated and
 * decoded findings, the evaluation input and the COPY text are alive together at the peak. Measured on this
 * project's machine with Trivy JSON of tiny and of juice-shop-sized findings: 4–6× the body; 6 is the bound used.
 */
export const INGEST_MEMORY_PER_BODY_BYTE = 6;

interface Waiter {
  cost: number;
  admit: () => void;
}

/**
 * Admits concurrent ingests against a per-replica memory budget (INGEST_MEMORY_BUDGET_BYTES): each holds an
 * estimate of its working memory (INGEST_MEMORY_PER_BODY_BYTE × its decoded size, at most the whole budget, so any
 * report within MAX_REPORT_BYTES can run alone) from parse to commit. An upload that does not fit waits, in arrival
 * order, up to `maxWaitMs`, then is refused with 503 `ingest_busy` and Retry-After: nothing of it is parsed or
 * stored. Two 26–29 MB uploads at once took a 512 MiB pod past its limit before (issue 17 item 2).
 */
export class IngestAdmission {
  private inUse = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly budgetBytes: number,
    private readonly maxWaitMs: number,
    private readonly retryAfterSeconds = 5,
  ) {}

  /** Bytes of the budget held by running ingests (for metrics and tests). */
  get used(): number {
    return this.inUse;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `work` once `bodyBytes` of report (× the per-byte estimate) fit in the budget; 503 after the bounded wait. */
  async run<T>(bodyBytes: number, work: () => Promise<T>): Promise<T> {
    const cost = Math.min(this.budgetBytes, Math.max(1, Math.ceil(bodyBytes * INGEST_MEMORY_PER_BODY_BYTE)));
    await this.acquire(cost);
    try {
      return await work();
    } finally {
      this.release(cost);
    }
  }

  private acquire(cost: number): Promise<void> {
    if (this.waiting.length === 0 && this.inUse + cost <= this.budgetBytes) {
      this.inUse += cost;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        admit: () => {
          clearTimeout(timer);
          this.inUse += cost;
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(
          new DomainError(
            "unavailable",
            "ingest_busy",
            `This replica is already ingesting as many reports as its memory budget allows (INGEST_MEMORY_BUDGET_BYTES); ` +
              `the upload waited ${Math.round(this.maxWaitMs / 1000)} s. Nothing was stored; retry in ${this.retryAfterSeconds} s.`,
            undefined,
            { retry_after_seconds: this.retryAfterSeconds },
          ),
        );
        this.drain(); // a large waiter leaving may let smaller ones behind it in
      }, this.maxWaitMs);
      this.waiting.push(waiter);
    });
  }

  private release(cost: number): void {
    this.inUse -= cost;
    this.drain();
  }

  /** Admits waiters in arrival order while the first one fits (no overtaking, so a large report is not starved). */
  private drain(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0]!.cost <= this.budgetBytes) this.waiting.shift()!.admit();
  }
}
