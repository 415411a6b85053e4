import type { FormatName } from '../data/types.js';
import { train } from '../train/train.js';
import type { Precision } from '../model/execution.js';

export async function trainCommand(o: Record<string, unknown>): Promise<void> {
  const result = await train({
    data: o.data as string,
    format: o.format as FormatName | undefined,
    preset: o.preset as string,
    set: o.set as string[],
    out: o.out as string,
    clip: o.clip as string | undefined,
    tokenizer: o.tokenizer as string | undefined,
    epochs: o.epochs as number,
    batch: o.batch as number,
    lr: o.lr as number | undefined,
    weightDecay: o.weightDecay as number,
    maxMinutes: o.maxMinutes as number | undefined,
    device: o.device as string,
    precision: o.precision as Precision | undefined,
    seed: o.seed as number,
    resume: o.resume === true,
    patience: o.patience as number,
    augment: o.augment === 'flip' ? 'flip' : o.augment !== false,
    promptAugment: o.promptAugment as number | undefined,
    negativePrompts: o.negativePrompts as number | undefined,
    valHalf: o.valHalf as 'a' | 'b' | undefined,
    skipBad: o.skipBad === true,
    limitTrain: o.limitTrain as number | undefined,
    limitVal: o.limitVal as number | undefined,
    auxPrompts: o.auxPrompts as string | undefined,
    threads: o.threads as number | undefined,
    maskThreshold: o.maskThreshold as number | undefined,
    profile: o.profile as number | undefined,
    maxSteps: o.maxSteps as number | undefined,
    featureCache: o.featureCache as string | false | undefined,
    pixelCacheMb: o.pixelCacheMb as number | undefined,
    explicit: o.explicit as string[] | undefined,
    override: o.override as string[] | undefined,
  });
  // As a shell reports a process these signals ended; the checkpoint is saved either way.
  if (result.signal) process.exitCode = result.signal === 'SIGTERM' ? 143 : 130;
  // Data-parallel ranks other than 0 train silently; rank 0 reports the run.
  if ((process.env.RANK ?? '0') !== '0') return;
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `run ${result.runDir}: ${result.steps} steps, ${result.epochs} epoch(s), stopped by ${result.stoppedBy}; ` +
        (result.bestEpoch < 0 ? 'no validation yet\n' : `best validation Dice ${result.bestDice.toFixed(4)} (micro) at epoch ${result.bestEpoch}\n`),
    );
}
