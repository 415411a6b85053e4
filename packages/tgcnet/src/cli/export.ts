import { exportRun } from '../run/export.js';

export function exportCommand(opts: { checkpoint: string; out: string; json?: boolean }): void {
  const r = exportRun(opts.checkpoint, opts.out);
  if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else process.stdout.write(`exported ${opts.checkpoint} to ${r.out}: ${r.files.join(', ')}\n`);
}
