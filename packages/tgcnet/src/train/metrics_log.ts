// metrics.jsonl: one line per finished epoch (and per stop), appended only once the checkpoint
// it describes is durable. A run killed between the two loses a line, which resume puts back
// from last/metrics.json; lines past the checkpoint resume starts from are dropped, so a
// resumed run never shows an epoch twice.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';

export class MetricsLog {
  readonly path: string;

  constructor(runDir: string) {
    this.path = join(runDir, 'metrics.jsonl');
  }

  append(entry: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
  }

  /**
   * Makes the log agree with the checkpoint a run resumes from: entries after `step` go, and
   * the checkpoint's own entry (`saved`, from last/metrics.json) is added if it is missing.
   */
  reconcile(step: number, saved: Record<string, unknown> | null): { dropped: number; restored: boolean } {
    const lines = existsSync(this.path) ? readFileSync(this.path, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
    const kept: string[] = [];
    let dropped = 0;
    for (const line of lines) {
      let entry: { step?: unknown } | null = null;
      try {
        entry = JSON.parse(line) as { step?: unknown };
      } catch {
        // A line cut by a kill mid-append: nothing in it can be trusted.
        dropped += 1;
        continue;
      }
      if (typeof entry?.step === 'number' && entry.step > step) dropped += 1;
      else kept.push(line);
    }
    const has = (e: Record<string, unknown>) =>
      kept.some((l) => {
        const k = JSON.parse(l) as Record<string, unknown>;
        return k.type === e.type && k.step === e.step;
      });
    const restored = saved !== null && saved.step === step && !has(saved);
    if (restored) kept.push(JSON.stringify(saved));
    if (dropped > 0 || restored) writeFileAtomic(this.path, kept.map((l) => `${l}\n`).join(''));
    return { dropped, restored };
  }
}
