// Progress for long runs: one updating line on a terminal (step, loss, throughput, ETA),
// a line every few seconds otherwise (logs, CI).
export interface ProgressInfo {
  epoch: number;
  epochs: number;
  loss: number;
  imagesPerSecond: number;
  /** Seconds left of a time budget (Infinity without one). */
  budgetLeft: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  readonly #started = performance.now();
  #lastPrint = 0;
  #ema: number | null = null;
  #onLine = false;
  readonly #tty: boolean;

  /** Steps in the whole run; a time-budget estimate may change it. */
  total: number;

  constructor(readonly options: { total: number; quiet: boolean; stream?: NodeJS.WriteStream }) {
    this.total = options.total;
    this.#tty = (options.stream ?? process.stderr).isTTY === true;
  }

  update(step: number, info: ProgressInfo): void {
    this.#ema = this.#ema === null ? info.loss : 0.9 * this.#ema + 0.1 * info.loss;
    if (this.options.quiet) return;
    const now = performance.now();
    if (now - this.#lastPrint < (this.#tty ? 250 : 10_000) && step !== this.total) return;
    this.#lastPrint = now;
    const elapsed = (now - this.#started) / 1000;
    const etaSteps = (elapsed / Math.max(1, step)) * (this.total - step);
    const eta = Math.min(etaSteps, info.budgetLeft);
    const pct = Math.min(100, (100 * step) / this.total);
    const width = 20;
    const filled = Math.round((pct / 100) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const text =
      `${bar} epoch ${info.epoch}/${info.epochs} step ${step}/${this.total} ` +
      `loss ${this.#ema.toFixed(4)} ${info.imagesPerSecond.toFixed(1)} img/s eta ${duration(eta)}`;
    const stream = this.options.stream ?? process.stderr;
    if (this.#tty) {
      stream.write(`\r${text}\u001b[K`);
      this.#onLine = true;
    } else {
      stream.write(`${text}\n`);
    }
  }

  /** Progress of work before training (the data check): label, done/total, rate and ETA. */
  count(done: number, label: string): void {
    if (this.options.quiet) return;
    const now = performance.now();
    if (now - this.#lastPrint < (this.#tty ? 250 : 10_000) && done !== this.total) return;
    this.#lastPrint = now;
    const elapsed = (now - this.#started) / 1000;
    const rate = done / Math.max(1e-3, elapsed);
    const text = `${label} ${done}/${this.total} (${rate.toFixed(0)}/s, eta ${duration((this.total - done) / Math.max(1e-3, rate))})`;
    const stream = this.options.stream ?? process.stderr;
    if (this.#tty) {
      stream.write(`\r${text}\u001b[K`);
      this.#onLine = true;
    } else if (elapsed > 10 && done !== this.total) {
      stream.write(`${text}\n`);
    }
  }

  /** A permanent line (epoch summaries), kept apart from the updating one. */
  line(text: string): void {
    if (this.options.quiet) return;
    const stream = this.options.stream ?? process.stderr;
    if (this.#onLine) stream.write('\r\u001b[K');
    this.#onLine = false;
    stream.write(`${text}\n`);
  }

  done(): void {
    if (this.#onLine) (this.options.stream ?? process.stderr).write('\n');
    this.#onLine = false;
  }
}
