// One model, one forward at a time: libtorch runs each forward on every core already, and
// two at once would only double the memory. Requests wait in a bounded FIFO; when it is
// full the caller is told so at once (503 + Retry-After) instead of waiting without end.
import { ApiError } from './errors.js';

interface Waiting {
  job: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class InferenceQueue {
  readonly #waiting: Waiting[] = [];
  /** The running job (settles when it has finished, either way), or null. */
  #current: Promise<void> | null = null;
  #closed = false;
  /** Mean seconds per job (exponential average), for Retry-After. */
  #meanSeconds = 1;

  /** `capacity`: jobs that may wait behind the running one. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error(`queue capacity must be a non-negative integer, got ${capacity}`);
  }

  /** Jobs waiting (not counting the one running). */
  get depth(): number {
    return this.#waiting.length;
  }

  get running(): boolean {
    return this.#current !== null;
  }

  /** Seconds until a slot is likely free: the waiting jobs and the running one at the mean pace. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.#waiting.length + 1) * this.#meanSeconds));
  }

  /** Runs `job` after those queued before it; refuses at once when the queue is full or closed. */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ApiError(503, 'shutting_down', 'the server is shutting down: send the request to another instance or retry when it is back'));
    if (this.#current !== null && this.#waiting.length >= this.capacity) {
      const seconds = this.retryAfterSeconds();
      return Promise.reject(
        new ApiError(503, 'queue_full', `the server is busy (${this.#waiting.length} requests waiting, the limit): retry after ${seconds} s, as the Retry-After header says`, {
          'retry-after': String(seconds),
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ job, resolve: resolve as (v: unknown) => void, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#current !== null) return;
    const next = this.#waiting.shift();
    if (!next) return;
    const started = performance.now();
    let finished!: () => void;
    this.#current = new Promise<void>((r) => (finished = r));
    // The queue is free again before the caller hears the outcome, so a caller that looks
    // at `running` or sends the next job sees the queue as it is.
    const settle = (deliver: () => void) => {
      this.#meanSeconds = 0.8 * this.#meanSeconds + 0.2 * ((performance.now() - started) / 1000);
      this.#current = null;
      finished();
      deliver();
      this.#pump();
    };
    // A job starts on a fresh turn, never inside its caller's stack; a job that throws
    // synchronously rejects its own promise like one that fails later.
    setImmediate(() => {
      Promise.resolve()
        .then(next.job)
        .then(
          (value) => settle(() => next.resolve(value)),
          (err) => settle(() => next.reject(err)),
        );
    });
  }

  /**
   * Stops taking jobs: the waiting ones are refused (503 shutting_down), the running one is
   * allowed to finish; resolves when it has.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) {
      w.reject(new ApiError(503, 'shutting_down', 'the server shut down before this request ran: retry against a running instance'));
    }
    if (this.#current !== null) await this.#current;
  }
}
