// How many optimizer steps a run takes, and so where warm-up and cosine decay end. Without a
// time budget: epochs x batches. With one (--max-minutes), the step count is estimated from
// the measured step time and validation time, so the schedule decays fully by the budget
// instead of being cut off with the learning rate still high. Estimates are recorded in the
// run's state: a resumed run follows the same plan, step for step.
import { z } from 'zod';

export const PlanEstimate = z.object({
  /** The global step at which the estimate was made. */
  atStep: z.number().int().nonnegative(),
  stepSeconds: z.number().positive(),
  validationSeconds: z.number().nonnegative(),
  totalSteps: z.number().int().positive(),
});
export type PlanEstimate = z.infer<typeof PlanEstimate>;

export const SchedulePlan = z.object({
  totalSteps: z.number().int().positive(),
  warmupSteps: z.number().int().nonnegative(),
  /** 'epochs' until a time budget's estimate makes the run shorter. */
  sizedBy: z.enum(['epochs', 'time-budget']),
  /** The step count the epochs alone would give (the ceiling of any budget estimate). */
  epochSteps: z.number().int().positive(),
  estimates: z.array(PlanEstimate),
});
export type SchedulePlan = z.infer<typeof SchedulePlan>;

/** 5% of the run, at most 200 steps. */
export function warmupFor(totalSteps: number): number {
  return Math.min(200, Math.ceil(totalSteps * 0.05));
}

export function epochPlan(batchesPerEpoch: number, epochs: number): SchedulePlan {
  const total = Math.max(1, batchesPerEpoch * epochs);
  return { totalSteps: total, warmupSteps: warmupFor(total), sizedBy: 'epochs', epochSteps: total, estimates: [] };
}

export interface BudgetMeasurement {
  /** Seconds of the budget left now. */
  secondsLeft: number;
  /** The current global step. */
  step: number;
  stepSeconds: number;
  /** Seconds one validation pass takes (measured, or estimated before the first one). */
  validationSeconds: number;
  batchesPerEpoch: number;
  /**
   * Keep the current plan when the estimate differs from it by at most this fraction of its steps,
   * either way: an early, noisy estimate, or an epoch's re-estimate that would only nudge it.
   */
  keepWithin?: number;
}

/**
 * The plan resized to end within the budget: steps that fit after paying for one validation
 * per epoch boundary crossed and a final one, never more than the epochs allow, never fewer
 * than already taken plus one.
 */
export function resizeToBudget(plan: SchedulePlan, m: BudgetMeasurement): SchedulePlan {
  // Each remaining step also carries its share of the per-epoch validation, and the final
  // validation comes out of the budget up front. 3% is kept back for checkpoints and jitter.
  const usable = m.secondsLeft * 0.97 - m.validationSeconds;
  const perStep = m.stepSeconds + m.validationSeconds / m.batchesPerEpoch;
  const fit = Math.max(1, Math.floor(usable / perStep));
  let total = Math.max(m.step + 1, Math.min(plan.epochSteps, m.step + fit));
  // A noisy estimate (a few seconds of steps) must not reshape a schedule the budget can almost
  // hold: a burst of load would change the warm-up and the cosine, and so the model. Within the
  // tolerance the plan stays; a later, measured estimate still cuts it if it must.
  if (m.keepWithin !== undefined && Math.abs(total - plan.totalSteps) <= plan.totalSteps * m.keepWithin) total = plan.totalSteps;
  const estimate: PlanEstimate = { atStep: m.step, stepSeconds: m.stepSeconds, validationSeconds: m.validationSeconds, totalSteps: total };
  return {
    ...plan,
    totalSteps: total,
    warmupSteps: warmupFor(total),
    sizedBy: total < plan.epochSteps ? 'time-budget' : 'epochs',
    estimates: [...plan.estimates, estimate],
  };
}

/** Where a run stands, saved as last/state.json with every checkpoint. */
export interface TrainState {
  epoch: number;
  /** Batches of `epoch` already done (resume starts at this batch). */
  batchInEpoch: number;
  globalStep: number;
  bestDice: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  elapsedSeconds: number;
  /** The step plan (older runs' state.json lacks it: they followed epochs x batches). */
  plan: SchedulePlan;
  /** --precision fp16: the gradient scaler's state, so a resume continues its scale. */
  gradScaler?: { scale: number; growthTracker: number };
}
