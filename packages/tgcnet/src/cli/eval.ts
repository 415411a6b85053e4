import type { FormatName, Split } from '../data/types.js';
import { evaluateRun } from '../eval/run_eval.js';
import type { Precision } from '../model/execution.js';
import { Progress } from '../train/progress.js';

export async function evalCommand(o: Record<string, unknown>): Promise<void> {
  const split = o.split as string;
  if (!['train', 'val', 'test'].includes(split)) throw new Error(`--split must be train, val or test, got '${split}'`);
  let progress: Progress | null = null;
  const r = await evaluateRun({
    threshold: o.threshold as number | undefined,
    tta: o.tta as 'flip' | undefined,
    nsdTolerance: o.nsdTolerance as number | undefined,
    saveProbabilities: o.saveProbabilities as string | undefined,
    includeEmptySlices: o.includeEmptySlices === true,
    onProgress: (done, total) => {
      progress ??= new Progress({ total, quiet: false });
      progress.count(done, 'evaluating');
      if (done === total) progress.done();
    },
    checkpoint: o.checkpoint as string,
    data: o.data as string,
    split: split as Split,
    format: o.format as FormatName | undefined,
    batch: o.batch as number,
    report: o.report as string | undefined,
    csv: o.csv as string | undefined,
    shufflePrompts: o.shufflePrompts === true,
    skipBad: o.skipBad === true,
    limit: o.limit as number | undefined,
    auxPrompts: o.auxPrompts as string | undefined,
    valHalf: o.valHalf as 'a' | 'b' | undefined,
    maskThreshold: o.maskThreshold as number | undefined,
    clip: o.clip as string | undefined,
    tokenizer: o.tokenizer as string | undefined,
    device: o.device as string | undefined,
    precision: o.precision as Precision | undefined,
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(4);
  process.stdout.write(`${r.split} split, ${r.cases} cases${r.tta === 'flip' ? ' (test-time augmentation: flip)' : ''}: Dice ${f(r.dice.micro)} micro / ${f(r.dice.macro)} macro, IoU ${f(r.iou.micro)} micro / ${f(r.iou.macro)} macro\n`);
  if (r.diceCi) process.stdout.write(`95% bootstrap intervals: Dice micro ${f(r.diceCi.micro[0])}-${f(r.diceCi.micro[1])}, macro ${f(r.diceCi.macro[0])}-${f(r.diceCi.macro[1])}\n`);
  const unit = r.surface.spacing === 'pixels' ? 'px' : r.surface.spacing === 'mixed' ? '(mm or px)' : 'mm';
  process.stdout.write(
    `HD95 ${Number.isNaN(r.surface.hd95.median) ? '-' : r.surface.hd95.median.toFixed(2)} ${unit} median / ${Number.isNaN(r.surface.hd95.mean) ? '-' : r.surface.hd95.mean.toFixed(2)} mean (${r.surface.hd95.cases} cases), ` +
      `NSD at ${r.surface.tolerance} ${unit} ${Number.isNaN(r.surface.nsd.mean) ? '-' : f(r.surface.nsd.mean)} (${r.surface.nsd.cases} cases); ` +
      `empty: ${r.empty.both} both, ${r.empty.truthOnly} ground truth only, ${r.empty.predictionOnly} prediction only\n`,
  );
  if (r.shuffledPrompts) process.stdout.write(`with shuffled prompts: Dice ${f(r.shuffledPrompts.dice.micro)} micro / ${f(r.shuffledPrompts.dice.macro)} macro\n`);
  if (r.negativePrompts) {
    const n = r.negativePrompts;
    process.stdout.write(
      `asked about zones without a lesion (negative_prompts.jsonl): ${(100 * n.emptyFraction).toFixed(1)}% of ${n.cases} cases empty, ` +
        `${n.meanArea.toFixed(0)} px marked per case (${(100 * n.areaRatio).toFixed(1)}% of the area under their own prompts)\n`,
    );
  }
  if (r.csv) process.stdout.write(`per-case CSV: ${r.csv}\n`);
  if (r.report) process.stdout.write(`report: ${r.report}\n`);
}
