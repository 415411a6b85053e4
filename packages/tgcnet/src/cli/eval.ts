import type { FormatName, Split } from '../data/types.js';
import { evaluateRun } from '../eval/run_eval.js';

export async function evalCommand(o: Record<string, unknown>): Promise<void> {
  const split = o.split as string;
  if (!['train', 'val', 'test'].includes(split)) throw new Error(`--split must be train, val or test, got '${split}'`);
  const r = await evaluateRun({
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
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(4);
  process.stdout.write(`${r.split} split, ${r.cases} cases: Dice ${f(r.dice.micro)} micro / ${f(r.dice.macro)} macro, IoU ${f(r.iou.micro)} micro / ${f(r.iou.macro)} macro\n`);
  if (r.shuffledPrompts) process.stdout.write(`with shuffled prompts: Dice ${f(r.shuffledPrompts.dice.micro)} micro / ${f(r.shuffledPrompts.dice.macro)} macro\n`);
  if (r.csv) process.stdout.write(`per-case CSV: ${r.csv}\n`);
  if (r.report) process.stdout.write(`report: ${r.report}\n`);
}
