// 95% confidence intervals for the headline Dice by the percentile bootstrap over cases:
// resample the cases with replacement (seeded, so a report is reproducible), recompute micro
// and macro Dice, take the 2.5th and 97.5th percentiles. How much a split of this size can
// be trusted, next to the number itself.
import { mulberry32 } from '../random.js';
import { type CaseCounts, diceOf } from './metrics.js';
import { percentile } from './surface.js';

export interface DiceIntervals {
  micro: [number, number];
  macro: [number, number];
  resamples: number;
}

export function bootstrapDice(cases: readonly CaseCounts[], options: { resamples?: number; seed?: number } = {}): DiceIntervals | null {
  const n = cases.length;
  if (n < 2) return null;
  const resamples = options.resamples ?? 1000;
  const rand = mulberry32(options.seed ?? 0);
  const dice = cases.map((c) => diceOf(c));
  const micro: number[] = [];
  const macro: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let inter = 0;
    let pred = 0;
    let act = 0;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const i = Math.floor(rand() * n);
      const c = cases[i];
      inter += c.intersection;
      pred += c.predicted;
      act += c.actual;
      sum += dice[i];
    }
    micro.push(diceOf({ intersection: inter, predicted: pred, actual: act }));
    macro.push(sum / n);
  }
  return { micro: [percentile(micro, 2.5), percentile(micro, 97.5)], macro: [percentile(macro, 2.5), percentile(macro, 97.5)], resamples };
}
