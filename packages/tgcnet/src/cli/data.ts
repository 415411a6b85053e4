import { openDataset } from '../data/detect.js';
import { type SynthStyle, writeSynthDataset } from '../data/synth_dataset.js';
import type { FormatName } from '../data/types.js';
import { formatProblems, validateDataset } from '../data/validate.js';

export async function dataSynth(opts: { out: string; n: number; seed: number; style: SynthStyle; size?: number }): Promise<void> {
  const started = performance.now();
  let last = 0;
  const { counts } = await writeSynthDataset({
    ...opts,
    onProgress: (done, total) => {
      if (process.stderr.isTTY && (performance.now() - last > 200 || done === total)) {
        last = performance.now();
        process.stderr.write(`\rwriting synthetic cases ${done}/${total}\u001b[K${done === total ? '\n' : ''}`);
      }
    },
  });
  process.stdout.write(
    `wrote ${opts.n} synthetic cases (style ${opts.style}) to ${opts.out} (LViT layout: train ${counts.train}, val ${counts.val}, test ${counts.test}) ` +
      `in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

export async function dataCheck(opts: { data: string; format?: string; json?: boolean }): Promise<void> {
  const ds = await openDataset(opts.data, { format: opts.format as FormatName | undefined });
  const problems = await validateDataset(ds, {});
  const bySplit: Record<string, number> = {};
  for (const c of ds.cases) bySplit[c.split] = (bySplit[c.split] ?? 0) + 1;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ format: ds.format, root: ds.root, cases: bySplit, problems }, null, 2)}\n`);
  } else {
    process.stdout.write(`${ds.root}: ${ds.format} format, ${Object.entries(bySplit).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    process.stdout.write(problems.length === 0 ? 'no problems found\n' : `${problems.length} problem(s):\n${formatProblems(problems)}\n`);
  }
  if (problems.length > 0) process.exitCode = 2;
}
