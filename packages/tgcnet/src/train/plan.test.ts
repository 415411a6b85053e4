import assert from 'node:assert/strict';
import { test } from 'node:test';
import { epochPlan, resizeToBudget, warmupFor } from './plan.js';

test('without a budget the plan is epochs x batches, warm-up 5% up to 200 steps', () => {
  assert.deepEqual(epochPlan(262, 3), { totalSteps: 786, warmupSteps: 40, sizedBy: 'epochs', epochSteps: 786, estimates: [] });
  assert.equal(warmupFor(100_000), 200);
});

test('a budget shorter than the epochs shrinks the plan so the schedule ends inside it', () => {
  const plan = epochPlan(262, 3);
  // 300 s left at step 35, 0.4 s a step, 10 s per validation: about 700 steps fit.
  const m = { secondsLeft: 300, step: 35, stepSeconds: 0.4, validationSeconds: 10, batchesPerEpoch: 262 };
  const resized = resizeToBudget(plan, m);
  assert.equal(resized.sizedBy, 'time-budget');
  const perStep = 0.4 + 10 / 262;
  assert.equal(resized.totalSteps, 35 + Math.floor((300 * 0.97 - 10) / perStep));
  assert.equal(resized.warmupSteps, warmupFor(resized.totalSteps));
  // What the plan costs from here stays inside the budget, validations included.
  const steps = resized.totalSteps - 35;
  const epochsCrossed = Math.ceil(resized.totalSteps / 262) - Math.floor(35 / 262);
  assert.ok(steps * 0.4 + epochsCrossed * 10 <= 300, 'plan fits the budget');
  assert.deepEqual(resized.estimates, [{ atStep: 35, stepSeconds: 0.4, validationSeconds: 10, totalSteps: resized.totalSteps }]);
});

test('a generous budget keeps the epochs; a spent one still allows the next step', () => {
  const plan = epochPlan(100, 2);
  const roomy = resizeToBudget(plan, { secondsLeft: 3600, step: 10, stepSeconds: 0.1, validationSeconds: 1, batchesPerEpoch: 100 });
  assert.equal(roomy.totalSteps, 200);
  assert.equal(roomy.sizedBy, 'epochs');
  const spent = resizeToBudget(plan, { secondsLeft: 0, step: 50, stepSeconds: 1, validationSeconds: 5, batchesPerEpoch: 100 });
  assert.equal(spent.totalSteps, 51);
  // A second estimate is appended, not substituted: the run records how it was sized.
  assert.equal(resizeToBudget(spent, { secondsLeft: 100, step: 50, stepSeconds: 1, validationSeconds: 5, batchesPerEpoch: 100 }).estimates.length, 2);
});

test('an early, noisy estimate within the tolerance keeps the plan; a later one, or a larger shortfall, still cuts it', () => {
  const plan = epochPlan(262, 3);
  // The demo's case: 0.35 s a step over steps 5-35 fits ~743 of 786 steps (5% short).
  const m = { secondsLeft: 290, step: 35, stepSeconds: 0.35, validationSeconds: 6.7, batchesPerEpoch: 262 };
  const cut = resizeToBudget(plan, m);
  assert.ok(cut.totalSteps < 786 && cut.totalSteps >= 786 * 0.9, `${cut.totalSteps}`);
  const kept = resizeToBudget(plan, { ...m, keepWithin: 0.1 });
  assert.equal(kept.totalSteps, 786);
  assert.equal(kept.warmupSteps, 40);
  assert.equal(kept.sizedBy, 'epochs');
  assert.equal(kept.estimates.length, 1, 'the estimate is still recorded');
  // 20% short: beyond the tolerance, cut at once.
  const slow = resizeToBudget(plan, { ...m, stepSeconds: 0.45, keepWithin: 0.1 });
  assert.ok(slow.totalSteps < 786 * 0.9, `${slow.totalSteps}`);
  // The epoch's measurement (no tolerance) cuts what the early one kept.
  assert.ok(resizeToBudget(kept, { ...m, step: 262, secondsLeft: 200 }).totalSteps < 786);
});

test("an epoch's re-estimate follows a machine that slowed down or sped up; within the tolerance it leaves the plan alone", () => {
  // The QaTa case: 20 epochs of 714 batches, 60 minutes; after epoch 1 the plan was 6107 steps at
  // 0.59 s a step; from epoch 3 the shared host gave 0.69 s. At the end of epoch 6 (step 4284,
  // 2655 s spent), the plan no longer fits: re-sized to end inside the budget.
  const batchesPerEpoch = 714;
  const plan = { ...epochPlan(batchesPerEpoch, 20), totalSteps: 6107, sizedBy: 'time-budget' as const, estimates: [{ atStep: 714, stepSeconds: 0.59, validationSeconds: 20, totalSteps: 6107 }] };
  const m = { secondsLeft: 3600 - 2655, step: 4284, stepSeconds: 0.69, validationSeconds: 20, batchesPerEpoch, keepWithin: 0.02 };
  const slowed = resizeToBudget(plan, m);
  const perStep = 0.69 + 20 / batchesPerEpoch;
  assert.equal(slowed.totalSteps, 4284 + Math.floor((945 * 0.97 - 20) / perStep));
  assert.ok(slowed.totalSteps < 6107 * 0.98, `${slowed.totalSteps}`);
  assert.equal(slowed.estimates.length, 2);
  // A machine that sped up gets the steps back (never past the epochs' count).
  const faster = resizeToBudget(slowed, { ...m, step: 4998, secondsLeft: 900, stepSeconds: 0.3 });
  assert.equal(faster.totalSteps, Math.min(plan.epochSteps, 4998 + Math.floor((900 * 0.97 - 20) / (0.3 + 20 / batchesPerEpoch))));
  assert.ok(faster.totalSteps > slowed.totalSteps);
  // Within 2% either way: kept, and the estimate recorded.
  const nudgeUp = resizeToBudget(slowed, { ...m, secondsLeft: 945 + 0.01 * (slowed.totalSteps - 4284) * perStep });
  assert.equal(nudgeUp.totalSteps, slowed.totalSteps);
  assert.equal(nudgeUp.estimates.length, 3);
  const nudgeDown = resizeToBudget(slowed, { ...m, stepSeconds: 0.70 });
  assert.equal(nudgeDown.totalSteps, slowed.totalSteps);
});
