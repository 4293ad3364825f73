/**
 * Exponential backoff with jitter for the agent's retries (the Kubernetes API or the registry away): the first retry
 * after `initialMs`, each next one `factor` times later up to `maxMs`, each delay spread by ±`jitter` so that many
 * agents restarting together do not hammer the registry in step. `reset()` after a success.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** How many failures in a row so far. */
  get failures(): number {
    return this.attempt;
  }

  /** The delay before the next retry; counts a failure. */
  next(): number {
    const { initialMs, maxMs, factor = 2, jitter = 0.2, random = Math.random } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** Math.min(this.attempt, 40));
    this.attempt += 1;
    const spread = base * jitter * (random() * 2 - 1);
    return Math.max(0, Math.min(maxMs, Math.round(base + spread)));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (stopping must never wait out a backoff). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Raised by `unlessAborted` when the agent stops while a request is in flight. */
class StoppedError extends Error {
  constructor() {
    super("stopped");
  }
}

/**
 * `promise`, or a StoppedError as soon as `signal` aborts: stopping never waits for a slow request (the request
 * itself is abandoned; its own timeout ends it).
 */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new StoppedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StoppedError());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
