import { openDataset } from '../data/detect.js';
import { type SynthStyle, writeSynthDataset } from '../data/synth_dataset.js';
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { lvitOriginalWording } from '../data/paraphrase_lvit.js';
import type { FormatName, Split } from '../data/types.js';
import { type ValHalf, inValHalf } from '../data/val_half.js';
import { formatProblems, validateDataset } from '../data/validate.js';
import { withMaskThreshold } from '../data/mask_values.js';
import { makeDir } from '../fs/make_dir.js';

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

export async function dataCheck(opts: { data: string; format?: string; deep?: boolean; maskThreshold?: number; json?: boolean }): Promise<void> {
  const opened = await openDataset(opts.data, { format: opts.format as FormatName | undefined });
  const ds = { ...opened, cases: withMaskThreshold(opened.cases, opts.maskThreshold) };
  let last = 0;
  const problems = await validateDataset(ds, {
    checkPixels: opts.deep === true,
    onProgress: (done, total) => {
      if (opts.deep && process.stderr.isTTY && (performance.now() - last > 200 || done === total)) {
        last = performance.now();
        process.stderr.write(`\rdecoding every image and mask: ${done}/${total}\u001b[K${done === total ? '\n' : ''}`);
      }
    },
  });
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

/**
 * `tgcnet data paraphrase`: a JSONL manifest of one split (optionally one hashed half of it)
 * with each lung prompt in LViT's original wording; images and masks stay where they are.
 */
export async function dataParaphrase(opts: { data: string; format?: string; split: Split; valHalf?: ValHalf; out: string }): Promise<void> {
  const ds = await openDataset(opts.data, { format: opts.format as FormatName | undefined, splits: [opts.split] });
  const cases = inValHalf(ds.cases.filter((c) => c.split === opts.split), opts.valHalf);
  const lines: string[] = [];
  let unchanged = 0;
  for (const c of cases) {
    if (c.image.kind !== 'file' || c.mask?.kind !== 'file') throw new Error(`${c.id}: data paraphrase needs image and mask files (not NIfTI slices)`);
    const text = lvitOriginalWording(c.text, c.id);
    if (text === null) unchanged++;
    lines.push(JSON.stringify({ id: c.id, image: resolve(c.image.path), mask: resolve(c.mask.path), text: text ?? c.text, original: c.text, split: opts.split }));
  }
  const tmp = `${opts.out}.tmp-${process.pid}`;
  makeDir(dirname(resolve(opts.out)));
  writeFileSync(tmp, `${lines.join('\n')}\n`);
  renameSync(tmp, opts.out);
  process.stdout.write(
    `wrote ${cases.length} cases of ${opts.data} (${opts.split}${opts.valHalf ? `, half ${opts.valHalf}` : ''}) to ${opts.out} in LViT's original wording` +
      `${unchanged > 0 ? ` (${unchanged} prompts name no lung zone and are kept as they are)` : ''}\n`,
  );
}
