// The main job: synthetic data -> train the small preset on the CPU within a time budget
// -> evaluate on the held-out test split, again with the prompts shuffled between cases,
// and probe one image under three prompts -> HTML report and a verdict: PASS when the
// masks are good and follow the text, otherwise a plain sentence and a non-zero exit.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type SynthStyle, writeSynthDataset } from '../data/synth_dataset.js';
import { evaluateRun } from '../eval/run_eval.js';
import { train } from '../train/train.js';
import { type Probe, runProbe } from './demo_probe.js';
import { type Precision, resolveExecution } from '../model/execution.js';

export interface DemoOptions {
  out: string;
  minutes: number;
  n: number;
  seed: number;
  style: SynthStyle;
  /** Run the demo's protocol on this dataset instead of generating one (no synthesis, same scoring). */
  data?: string;
  /** Overrides of the small preset (key=value), for ablations under the demo's own protocol. */
  set?: string[];
  /** Peak learning rate; default the small preset's (train.ts). */
  lr?: number;
  /** Probability that a training case asks one of its negative prompts (default 0: measured, it costs Dice; README). */
  negativePrompts?: number;
  /** DATE's auxiliary texts: a JSONL file, or 'offline' (the canonical zone restatement); default none. */
  auxPrompts?: string;
  /** cpu (default), cuda or cuda:N; training, evaluation and the probe run there. */
  device?: string;
  precision?: Precision;
  json?: boolean;
}

/** The bar the demo holds itself to: test Dice (micro) and its drop when prompts are shuffled. */
export const DEMO_BAR = { dice: 0.85, drop: 0.25 };

export interface Verdict {
  pass: boolean;
  sentence: string;
}

export function demoVerdict(dice: number, shuffledDice: number): Verdict {
  const drop = dice - shuffledDice;
  const f = (x: number) => x.toFixed(3);
  if (dice >= DEMO_BAR.dice && drop >= DEMO_BAR.drop) {
    return { pass: true, sentence: `PASS: test Dice ${f(dice)} >= ${DEMO_BAR.dice}, and ${f(drop)} lower with other cases' prompts (>= ${DEMO_BAR.drop}): the prompt decides the mask.` };
  }
  if (drop < DEMO_BAR.drop) {
    return {
      pass: false,
      sentence:
        `FAIL: the model does not follow the prompt. Given other cases' prompts its Dice falls by only ${f(drop)} ` +
        `(${f(dice)} -> ${f(shuffledDice)}; a model that reads the text loses at least ${DEMO_BAR.drop}): it marks what it sees, not what the text names.`,
    };
  }
  return {
    pass: false,
    sentence: `FAIL: the model follows the prompt (Dice ${f(drop)} lower with shuffled prompts), but its masks are not accurate enough: test Dice ${f(dice)} < ${DEMO_BAR.dice}.`,
  };
}

export async function demo(opts: DemoOptions): Promise<{ pass: boolean; exitCode?: number }> {
  const out = resolve(opts.out);
  const say = (s: string) => process.stderr.write(`demo: ${s}\n`);
  const started = performance.now();
  let dataDir: string;
  if (opts.data) {
    dataDir = resolve(opts.data);
    say(`using the dataset at ${dataDir}`);
  } else {
    dataDir = join(out, 'data');
    const stamp = JSON.stringify({ n: opts.n, seed: opts.seed, style: opts.style, version: 3 });
    const stampFile = join(out, 'data.json');
    if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(dataDir)) {
      say(`reusing synthetic data in ${dataDir}`);
    } else {
      say(`writing ${opts.n} synthetic chest radiographs (style ${opts.style}) to ${dataDir}`);
      await writeSynthDataset({ out: dataDir, n: opts.n, seed: opts.seed, style: opts.style });
      writeFileSync(stampFile, stamp);
    }
  }
  const runDir = join(out, 'run');
  rmSync(runDir, { recursive: true, force: true });
  const overrides = opts.set ?? [];
  const changes = [...overrides, ...(opts.lr !== undefined ? [`lr=${opts.lr}`] : [])];
  const presetName = changes.length ? `small preset with ${changes.join(' ')}` : 'small preset';
  say(`training the ${presetName} for at most ${opts.minutes} minute(s) into ${runDir}`);
  const trained = await train({
    data: dataDir,
    preset: 'small',
    set: overrides,
    out: runDir,
    // At most three epochs; the time budget sizes the schedule (warm-up and cosine decay end
    // within it), so a slower machine trains fewer steps but never stops mid-schedule.
    epochs: 3,
    batch: 8,
    maxMinutes: opts.minutes,
    ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
    seed: opts.seed,
    patience: 0,
    // Measured on 2 cores: one libtorch thread trains the small preset faster than two (sharp
    // decodes on the other core). OMP_NUM_THREADS, when set, wins.
    threads: process.env.OMP_NUM_THREADS ? undefined : 1,
    // Synthetic cases are plentiful and already vary in geometry, brightness and noise; in a
    // few hundred steps the demo spends its budget on learning which zone is which rather than
    // on invariance to rotations it never sees at test time.
    augment: false,
    ...(opts.negativePrompts ? { negativePrompts: opts.negativePrompts } : {}),
    ...(opts.auxPrompts ? { auxPrompts: opts.auxPrompts } : {}),
    device: opts.device,
    precision: opts.precision,
  });
  if (trained.stoppedBy === 'interrupt') {
    say(`stopped by ${trained.signal}: the run in ${runDir} is saved (\`tgcnet train --resume\` continues it); nothing evaluated`);
    return { pass: false, exitCode: trained.signal === 'SIGTERM' ? 143 : 130 };
  }
  say('evaluating on the test split (and with shuffled prompts)');
  const reportDir = join(out, 'report');
  const evaluation = await evaluateRun({ checkpoint: runDir, data: dataDir, split: 'test', report: reportDir, shufflePrompts: true, seed: opts.seed, device: opts.device, precision: opts.precision });
  say('probing one test image under three prompts');
  const probe: Probe = await runProbe(runDir, dataDir, opts.data ? null : { style: opts.style, seed: opts.seed }, resolveExecution(opts));
  const shuffled = evaluation.shuffledPrompts!.dice.micro;
  const verdict = demoVerdict(evaluation.dice.micro, shuffled);
  const result = {
    data: dataDir,
    run: runDir,
    report: evaluation.report,
    training: {
      set: overrides,
      steps: trained.steps,
      epochs: trained.epochs,
      stoppedBy: trained.stoppedBy,
      plannedSteps: trained.plan.totalSteps,
      seconds: Math.round(trained.seconds),
      bestValDice: trained.bestDice,
      /** The 3 epochs' steps; more than `steps` where the time cap shortened the schedule. */
      fullSteps: trained.plan.epochSteps,
    },
    test: { cases: evaluation.cases, dice: evaluation.dice, iou: evaluation.iou },
    shuffledPrompts: evaluation.shuffledPrompts,
    drop: evaluation.dice.micro - shuffled,
    negativePrompts: evaluation.negativePrompts ?? null,
    probe,
    verdict,
    provenance: evaluation.provenance,
    seconds: Math.round((performance.now() - started) / 1000),
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return { pass: verdict.pass };
  }
  const f = (x: number) => x.toFixed(4);
  const probeLines = probe.rows.map(
    (r) =>
      `    ${String(r.area).padStart(6)} px` +
      (r.truthArea === null ? '' : ` (named: ${String(r.truthArea).padStart(5)} px, Dice ${r.dice!.toFixed(3)})`) +
      `  "${r.prompt}"`,
  );
  process.stdout.write(
    `\nTGC-Net demo (${presetName}, ${result.training.steps} steps in ${result.training.seconds} s on the CPU, ` +
      `${result.provenance.training?.threads ?? '?'} thread(s), ${result.provenance.training?.cpu ?? 'unknown CPU'}${result.provenance.training?.blas ? `, ${result.provenance.training.blas}` : ''})\n` +
      `  test Dice ${f(evaluation.dice.micro)} micro / ${f(evaluation.dice.macro)} macro, IoU ${f(evaluation.iou.micro)} micro (${evaluation.cases} cases)\n` +
      `  same model, shuffled prompts: Dice ${f(shuffled)} micro (drop ${f(result.drop)})\n` +
      (result.negativePrompts
        ? `  asked about zones without a lesion: ${(100 * result.negativePrompts.emptyFraction).toFixed(1)}% of ${result.negativePrompts.cases} test cases empty, ` +
          `${result.negativePrompts.meanArea.toFixed(0)} px marked per case (${(100 * result.negativePrompts.areaRatio).toFixed(1)}% of the area under their own prompts)\n`
        : '') +
      `  probe: test image ${probe.case} under three prompts, predicted mask area:\n${probeLines.join('\n')}\n` +
      `  report: ${evaluation.report}\n` +
      (result.training.steps < result.training.fullSteps
        ? `  note: this machine fitted ${result.training.steps} of the ${result.training.fullSteps} steps into the ${opts.minutes}-minute cap; ` +
          `the figures are those of a shorter schedule (--minutes ${Math.ceil((opts.minutes * result.training.fullSteps) / result.training.steps) + 1} trains them all)\n`
        : '') +
      `\n${verdict.sentence}\n`,
  );
  return { pass: verdict.pass };
}
