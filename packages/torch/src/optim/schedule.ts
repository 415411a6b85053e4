// Learning-rate schedules as pure functions of the step, and a scheduler that applies one.
import type { Optimizer } from './optimizer.js';

export interface WarmupCosineOptions {
  warmupSteps: number;
  totalSteps: number;
  /** Final lr as a fraction of the base lr. */
  minFactor?: number;
  /** lr factor at step 0 of the warmup (linear from here to 1). */
  warmupStartFactor?: number;
}

/** Linear warmup to 1, then half-cosine decay to minFactor at totalSteps. */
export function warmupCosineFactor(step: number, o: WarmupCosineOptions): number {
  const minFactor = o.minFactor ?? 0;
  const start = o.warmupStartFactor ?? 0;
  if (o.warmupSteps > 0 && step < o.warmupSteps) return start + ((1 - start) * step) / o.warmupSteps;
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / decaySteps);
  return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Sets each group's lr to base lr x factor(step); call step() after optimizer.step(). */
export class LambdaLR {
  readonly baseLrs: number[];
  lastStep = 0;

  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    readonly factor: (step: number) => number,
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.options.lr);
    this.apply();
  }

  private apply(): void {
    const f = this.factor(this.lastStep);
    this.optimizer.paramGroups.forEach((g, i) => {
      g.options.lr = this.baseLrs[i] * f;
    });
  }

  step(): void {
    this.lastStep += 1;
    this.apply();
  }

  /** Jumps to a step (for resuming). */
  setStep(step: number): void {
    this.lastStep = step;
    this.apply();
  }

  get lr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.options.lr);
  }
}

export function warmupCosine(optimizer: Optimizer<{ lr: number }>, options: WarmupCosineOptions): LambdaLR {
  return new LambdaLR(optimizer, (s) => warmupCosineFactor(s, options));
}
