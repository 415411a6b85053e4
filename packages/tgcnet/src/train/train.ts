// The training loop: 0.5 Dice + 0.5 BCE, AdamW with warmup + cosine, gradient clipping,
// validation every epoch, best/last checkpoints, exact resume, early stopping, a time
// budget, Ctrl-C that saves and exits, progress and a JSONL metrics log.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isWithin } from '../fs/real_path.js';
import { amp, getNumThreads, loadSafetensors, manualSeed, memory, optim, profiler, setNumThreads, tidy } from '@tgcnet/torch';
import { writeFileAtomic } from '../fs/atomic.js';
import { resolveClipArg } from '../clip/hub.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { DEFAULT_AUGMENT, FLIP_ONLY } from '../data/augment.js';
import { openDataset } from '../data/detect.js';
import { DecodedCache, DEFAULT_PIXEL_CACHE_MB, MiB } from '../data/decoded_cache.js';
import { Loader } from '../data/loader.js';
import type { CaseRecord, FormatName } from '../data/types.js';
import { formatProblems, validateDataset } from '../data/validate.js';
import { withMaskThreshold } from '../data/mask_values.js';
import { NEGATIVE_PROMPTS_FILE, attachNegativePrompts, negativePromptsPath, readNegativePrompts } from '../data/negative_prompts.js';
import { type ValHalf, inValHalf } from '../data/val_half.js';
import { evaluateCases } from '../eval/evaluate.js';
import { buildConfig } from '../model/config.js';
import { TgcNet, parameterReport, usesAux } from '../model/tgcnet.js';
import { VisionFeatureCache, featureCacheUnusable } from '../model/vision_cache.js';
import { defaultBpePath } from '../paths.js';
import { AuxPrompts } from '../prompts/aux_prompts.js';
import { fnv1a32 } from '../random.js';
import { loadWeights, pretrainedClipOf, recoverRunFolder, saveCheckpoint, writeRunRecord } from '../run/checkpoint.js';
import { bundleAuxFile, bundleClipConfig, bundleTokenizer, runPath } from '../run/portable.js';
import { collectProvenance } from '../run/provenance.js';
import { type RunRecord, TrainRecord, readJsonFile, readRunRecord } from '../run/record.js';
import { TGCNET_VERSION } from '../version.js';
import { collate } from '../model/inputs.js';
import { type Execution, type Precision, resolveExecution, underPrecision } from '../model/execution.js';
import { trainingLoss } from './loss.js';
import { trainingOptimizer } from './optimizer.js';
import { TEXT_WARMUP_BATCH, textWarmupUnusable, warmUpText } from './text_warmup.js';
import { type SchedulePlan, type TrainState, epochPlan, resizeToBudget } from './plan.js';
import { MetricsLog } from './metrics_log.js';
import { Progress } from './progress.js';
import { FREE_RESUME_OPTIONS, reconcileResumeOptions } from './resume_options.js';
import { DataParallel, type EvaluationCounts } from './data_parallel.js';
import { diceOf, iouOf } from '../eval/metrics.js';
import { lockFolder } from '../fs/folder_lock.js';
import { makeDir } from '../fs/make_dir.js';

export interface TrainOptions {
  data: string;
  format?: FormatName;
  preset: string;
  set?: string[];
  out: string;
  clip?: string;
  tokenizer?: string;
  epochs: number;
  batch: number;
  lr?: number;
  weightDecay?: number;
  maxMinutes?: number;
  /** cpu (default), cuda or cuda:N; under a launcher cuda means cuda:LOCAL_RANK. Not part of exact resume: a checkpoint resumes on any device. */
  device?: string;
  /** Autocast precision of forward and loss (default fp32); fp16 adds a gradient scaler. */
  precision?: Precision;
  seed: number;
  resume?: boolean;
  /** Epochs without a better validation Dice before stopping (0: never). */
  patience?: number;
  /** true: flips, rotations, scaling, shifts and intensity; 'flip': horizontal flips only (left/right swapped in the prompt); false: none. */
  augment?: boolean | 'flip';
  /**
   * Where the frozen CLIP vision tower's features are kept between epochs (model/vision_cache.ts):
   * a folder (shared by runs of the same tower), false for none; default <out>/feature-cache.
   * Used only when the tower is pretrained and frozen and augmentation moves no pixels.
   */
  featureCache?: string | false;
  /**
   * Decoded, resized pixels kept in memory across epochs, at most this many MiB (default 2048;
   * 0: decode every epoch). Same bytes either way: it changes speed, never a result.
   */
  pixelCacheMb?: number;
  /** Validate and select on this hashed half of the validation split only (data/val_half.ts). */
  valHalf?: ValHalf;
  /** Binarise 2-D mask files at this value (foreground > it) instead of the automatic rule (MASK_RULE). */
  maskThreshold?: number;
  /** Probability that a training prompt is reworded and gets typing slips (0: never). */
  promptAugment?: number;
  /** Probability that a training case with negative prompts (data/negative_prompts.ts) asks one, with an empty target (0: never). */
  negativePrompts?: number;
  skipBad?: boolean;
  /** Use at most this many training / validation cases (quick runs). */
  limitTrain?: number;
  limitVal?: number;
  /** Auxiliary prompts JSONL (default: <data>/aux_prompts.jsonl when present), or 'offline': the offline expander on the fly. */
  auxPrompts?: string;
  /** Stop after this many optimizer steps in this invocation (tests of resume). */
  maxSteps?: number;
  /** Profile this many steps (after 3 warm-up steps of this invocation): a per-operator table on stderr and profile.json in the run. */
  profile?: number;
  quiet?: boolean;
  /** libtorch threads (default: OMP_NUM_THREADS, else every core). One is faster for the small
   * preset on 2 cores: its ops are small, and image decoding needs the other core. */
  threads?: number;
  /** Names of the options the user typed (the command line); on --resume the others come from the run. */
  explicit?: string[];
  /** On --resume: options allowed to differ from the run's (resume_options.ts). */
  override?: string[];
  /** Recorded, not chosen: the number of data-parallel processes (set from WORLD_SIZE). */
  worldSize?: number;
}

export interface TrainResult {
  runDir: string;
  epochs: number;
  steps: number;
  bestDice: number;
  bestEpoch: number;
  /** 'schedule': the schedule sized to --max-minutes ran to its end; 'time-budget': the budget ran out first. */
  stoppedBy: 'epochs' | 'schedule' | 'early-stopping' | 'time-budget' | 'interrupt' | 'max-steps';
  /** With stoppedBy 'interrupt': the signal that stopped it (the command exits 130 or 143). */
  signal?: 'SIGINT' | 'SIGTERM';
  /** The step plan the run followed (sized by epochs or by the time budget). */
  plan: SchedulePlan;
  seconds: number;
  /** Data-parallel runs: the number of processes and the weights' hash, checked equal on every rank. */
  ranks?: { worldSize: number; weightsSha256: string };
}

const DEFAULT_LR: Record<string, number> = { paper: 1e-4, b16: 1e-4, small: 1e-3, tiny: 1e-3 };

function splitValidation(train: CaseRecord[], seed: number): { train: CaseRecord[]; val: CaseRecord[] } {
  const order = [...train].sort((a, b) => (fnv1a32(`${seed}:${a.id}`) - fnv1a32(`${seed}:${b.id}`)) || (a.id < b.id ? -1 : 1));
  const n = Math.max(1, Math.round(order.length * 0.1));
  return { val: order.slice(0, n), train: order.slice(n) };
}


/**
 * A run folder is a run's alone: not the dataset (its files would be mixed with checkpoints and
 * read as cases), not inside another run, not a folder already holding other files.
 */
function refuseForeignFolder(runDir: string, options: TrainOptions): void {
  const dataStat = statSync(options.data, { throwIfNoEntry: false });
  const dataRoot = dataStat?.isDirectory() ? options.data : dirname(resolve(options.data));
  // (A dataset that does not exist is said by the dataset reader.)
  if (dataStat && (isWithin(runDir, dataRoot) || isWithin(dataRoot, runDir))) {
    throw new Error(`--out ${options.out} overlaps the dataset ${options.data}: put the run in its own folder (e.g. runs/<name>)`);
  }
  for (let up = dirname(runDir); up !== dirname(up); up = dirname(up)) {
    if (existsSync(join(up, 'config.json')) && (existsSync(join(up, 'best')) || existsSync(join(up, 'last')))) {
      throw new Error(`--out ${options.out} is inside the run ${up}: put the run in its own folder`);
    }
  }
  if (existsSync(runDir) && !existsSync(join(runDir, 'config.json'))) {
    const others = readdirSync(runDir).filter((e) => !e.startsWith('.'));
    if (others.length > 0) {
      throw new Error(`--out ${options.out} already holds other files (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}): choose a new or empty folder for the run`);
    }
  }
}

/** The options as config.json records them; out-of-range values are refused here, before any work, not when the run is next loaded. */
function recordableOptions(options: TrainOptions): TrainRecord {
  const { quiet: _q, explicit: _e, override: _o, profile: _p, ...recorded } = options;
  const r = TrainRecord.safeParse(JSON.parse(JSON.stringify(recorded)));
  if (!r.success) {
    throw new Error(`invalid training options: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

export async function train(given: TrainOptions): Promise<TrainResult> {
  recordableOptions(given);
  // Under a launcher (WORLD_SIZE set): one of several ranks. Rank 0 alone speaks and writes.
  const execution = resolveExecution(given, DataParallel.localRankFromEnv());
  const dp = DataParallel.fromEnv(process.env, execution.device);
  try {
    return await trainRank(dp.isMain ? given : { ...given, quiet: true }, dp, execution);
  } finally {
    dp.close();
  }
}

async function trainRank(given: TrainOptions, dp: DataParallel, execution: Execution): Promise<TrainResult> {
  const log = (line: string) => {
    if (!given.quiet) process.stderr.write(`${line}\n`);
  };
  // ---- the run folder: checked before anything slow, locked, repaired after a kill ----
  const runDir = resolve(given.out);
  if (!dp.isMain) {
    // Rank 0 checks, locks and repairs the folder; the others read it once it is ready.
    dp.barrier();
    return trainLocked(given, runDir, given.resume === true && existsSync(join(runDir, 'last', 'state.json')), log, dp, execution);
  }
  if (existsSync(runDir) && !statSync(runDir).isDirectory()) throw new Error(`--out ${given.out} is a file, not a folder: choose a folder for the run (e.g. runs/<name>)`);
  refuseForeignFolder(runDir, given);
  makeDir(runDir, 'run folder');
  // Locked before anything is repaired or replaced: a second process must not touch a folder in use.
  const unlock = lockFolder(runDir, 'training');
  try {
    for (const line of recoverRunFolder(runDir)) log(`tgcnet: ${runDir}: ${line}`);
    const hasCheckpoint = existsSync(join(runDir, 'last', 'state.json'));
    const holdsRun = existsSync(join(runDir, 'config.json'));
    const resuming = given.resume === true && hasCheckpoint;
    if (holdsRun && !hasCheckpoint && !existsSync(join(runDir, 'best'))) {
      // It stopped before its first checkpoint: nothing in it can be continued or lost.
      log(`tgcnet: ${runDir} holds a run that stopped before its first checkpoint: starting it again`);
      rmSync(join(runDir, 'config.json'), { force: true });
      rmSync(join(runDir, 'metrics.jsonl'), { force: true });
    } else if (holdsRun && !hasCheckpoint) {
      throw new Error(`${runDir} has best/ but no last/ to resume from exactly: evaluate or predict with it, and train into another --out`);
    } else if (given.resume && !resuming) {
      log(`tgcnet: --resume: no run in ${runDir}, starting a new one`);
    } else if (!resuming && holdsRun) {
      throw new Error(`${runDir} already holds a run: pass --resume to continue it, or another --out`);
    }
    dp.barrier();
    return await trainLocked(given, runDir, resuming, log, dp, execution);
  } finally {
    unlock();
  }
}

/** Dice and IoU (micro and macro) from pooled counts. */
function scoresOf(c: EvaluationCounts): { diceMacro: number; diceMicro: number; iouMacro: number; iouMicro: number } {
  const n = Math.max(1, c.cases);
  return { diceMacro: c.diceSum / n, diceMicro: diceOf(c), iouMacro: c.iouSum / n, iouMicro: iouOf(c) };
}

async function trainLocked(given: TrainOptions, runDir: string, resuming: boolean, log: (line: string) => void, dp: DataParallel, execution: Execution): Promise<TrainResult> {

  // ---- configuration and model ----
  const previous = resuming ? readRunRecord(runDir) : null;
  const reconciled = previous
    ? reconcileResumeOptions(previous, given, given.explicit ? new Set(given.explicit) : null, given.override ?? [])
    : { options: given, changed: {} };
  const options = reconciled.options;
  dp.checkBatch(options.batch);
  if (previous) {
    const recorded = previous.train.worldSize ?? 1;
    if (recorded !== dp.worldSize && !(given.override ?? []).includes('worldSize')) {
      throw new Error(
        `${runDir} was trained by ${recorded} process(es) and is resumed by ${dp.worldSize}: each step's batch would be split differently ` +
          '(the same global batch, another summation order); resume with the same number of processes, or pass --override worldSize to go on anyway',
      );
    }
  }
  if (options.threads !== undefined) setNumThreads(options.threads);
  let config = previous?.model ?? buildConfig(options.preset, [...(options.set ?? []), ...(options.clip ? [] : ['clipTrainable=true'])]);
  const clipArg = !previous && options.clip ? await resolveClipArg(options.clip, log) : null;
  const clipSource = previous ? previous.clipSource : clipArg ? resolve(clipArg.path) : null;
  if (clipSource === null && !config.clipTrainable) config = { ...config, clipTrainable: true };
  const tokenizerPath = previous ? runPath(runDir, previous.tokenizer) : (options.tokenizer ?? clipSource ?? defaultBpePath());
  if (!tokenizerPath) throw new Error('no CLIP tokenizer: pass --tokenizer <bpe_simple_vocab_16e6.txt.gz or a folder>, or --clip <folder with vocab.json>');
  const tokenizer = ClipTokenizer.fromPath(tokenizerPath);
  manualSeed(options.seed);
  const model = new TgcNet(config, pretrainedClipOf({ clipSource, model: config }));
  if (clipSource === null) log('tgcnet: no --clip given: the CLIP towers are built from the preset with random weights and trained, not frozen');
  if (execution.device !== 'cpu') model.to(execution.device);
  if (execution.device !== 'cpu' || execution.precision !== 'fp32') log(`tgcnet: training on ${execution.device} in ${execution.precision} (autocast; weights and optimizer state float32)`);
  const report = parameterReport(model);
  log(`tgcnet: model ${options.preset}${options.set?.length ? ` with ${options.set.join(' ')}` : ''}: ${(report.trainable / 1e6).toFixed(2)}M trainable of ${(report.total / 1e6).toFixed(2)}M parameters`);

  // ---- data ----
  const opened = await openDataset(options.data, { format: options.format, splits: ['train', 'val'] });
  const dataset = { ...opened, cases: withMaskThreshold(opened.cases, options.maskThreshold) };
  if (options.negativePrompts) {
    const negatives = readNegativePrompts(options.data);
    if (negatives === null) {
      log(`tgcnet: warning: --negative-prompts ${options.negativePrompts}: the dataset has no ${NEGATIVE_PROMPTS_FILE} (${negativePromptsPath(options.data)}), so no case asks one`);
    } else {
      const n = attachNegativePrompts(dataset.cases.filter((c) => c.split === 'train'), negatives.byId);
      log(`tgcnet: negative prompts ${negatives.file}: ${n} training cases have some; each asks one with probability ${options.negativePrompts}`);
    }
  }
  let auxFile: string | null = null;
  if (usesAux(config)) {
    const warn = (m: string) => log(`tgcnet: warning: ${m}`);
    const auxPrompts = AuxPrompts.open(options.auxPrompts, options.data, warn);
    const attached = auxPrompts.attach(dataset.cases);
    const missing = auxPrompts.missingWarning(attached);
    if (missing) warn(missing);
    if (auxPrompts.file) log(`tgcnet: auxiliary prompts ${auxPrompts.file}: ${attached.attached} attached, ${attached.missing} without`);
    if (auxPrompts.origin.kind === 'offline') log(`tgcnet: auxiliary prompts: the offline expander, for ${attached.attached} cases (and any paraphrase)`);
    auxFile = auxPrompts.file;
  }
  // Every image and mask is decoded once before the first step: a truncated file or a mask
  // that binarises to nothing is reported now, with all the others, not in epoch 1.
  const checkStart = performance.now();
  const checkProgress = new Progress({ total: dataset.cases.length, quiet: options.quiet === true });
  const problems = await validateDataset(dataset, { checkPixels: true, onProgress: (done) => checkProgress.count(done, 'checking data: decoding every image and mask') });
  checkProgress.done();
  log(`tgcnet: decoded every image and mask of ${dataset.cases.length} cases in ${((performance.now() - checkStart) / 1000).toFixed(1)} s`);
  let cases = dataset.cases;
  if (problems.length > 0) {
    const text = formatProblems(problems);
    if (!options.skipBad || problems.some((p) => p.wholeDataset)) {
      const whole = problems.filter((p) => p.wholeDataset);
      throw new Error(
        whole.length > 0
          ? `${options.data}: ${whole.map((p) => p.message).join('; ')} (--skip-bad leaves out bad cases, not a bad dataset)\n${text}`
          : `${options.data}: ${problems.length} bad case(s); fix them or pass --skip-bad:\n${text}`,
      );
    }
    const bad = new Set(problems.map((p) => p.where));
    cases = cases.filter((c) => !bad.has(c.id));
    log(`tgcnet: skipping ${bad.size} bad case(s):\n${text}`);
  }
  let trainCases = cases.filter((c) => c.split === 'train');
  let valCases = cases.filter((c) => c.split === 'val');
  if (trainCases.length === 0) throw new Error(`${options.data}: no training cases found (format ${dataset.format})`);
  if (valCases.length === 0) {
    ({ train: trainCases, val: valCases } = splitValidation(trainCases, options.seed));
    log(`tgcnet: no validation split in the data: holding out ${valCases.length} training cases (seeded)`);
  }
  if (options.limitTrain) trainCases = trainCases.slice(0, options.limitTrain);
  if (options.valHalf) valCases = inValHalf(valCases, options.valHalf);
  if (options.limitVal) valCases = valCases.slice(0, options.limitVal);
  log(`tgcnet: data ${dataset.format} at ${options.data}: ${trainCases.length} train, ${valCases.length} validation cases`);

  const pixelCacheMb = options.pixelCacheMb ?? DEFAULT_PIXEL_CACHE_MB;
  const decodedCache = pixelCacheMb > 0 ? new DecodedCache(pixelCacheMb * MiB) : null;
  let pixelCacheReported = false;
  const loader = new Loader(trainCases, {
    batchSize: options.batch,
    shuffle: true,
    seed: options.seed,
    cnnSize: config.cnnInput,
    vitSize: config.encoder === 'cnn-only' ? null : config.vitInput,
    prefetch: 2,
    dropLast: trainCases.length >= options.batch * 2,
    shard: { rank: dp.rank, worldSize: dp.worldSize },
    cache: decodedCache,
  });
  const batchesPerEpoch = loader.batchesPerEpoch();

  // ---- optimisation ----
  const lr = options.lr ?? DEFAULT_LR[options.preset] ?? 1e-4;
  const { optimizer, params } = trainingOptimizer(model, { lr, weightDecay: options.weightDecay ?? 1e-2 });

  // float16 gradients underflow without a scaler; bfloat16 has float32's range and needs none.
  const gradScaler = new amp.GradScaler({ enabled: execution.precision === 'fp16' });

  const run: RunRecord = previous ?? {
    model: config,
    clipSource,
    tokenizer: resolve(tokenizerPath),
    train: recordableOptions({ ...options, lr, ...(dp.distributed ? { worldSize: dp.worldSize } : {}) }),
    data: { root: resolve(options.data), format: dataset.format },
    createdAt: new Date().toISOString(),
    tgcnetVersion: TGCNET_VERSION,
    ...(clipArg?.hub ? { clipHub: clipArg.hub } : {}),
    provenance: collectProvenance(),
  };
  let state: TrainState = {
    epoch: 0,
    batchInEpoch: 0,
    globalStep: 0,
    bestDice: -1,
    bestEpoch: -1,
    epochsWithoutImprovement: 0,
    elapsedSeconds: 0,
    plan: epochPlan(batchesPerEpoch, options.epochs),
  };
  // The schedule reads the plan on every step: a budget estimate that resizes the plan
  // moves the end of the cosine without restarting it.
  const schedule = new optim.LambdaLR(optimizer, (s) =>
    optim.warmupCosineFactor(s, { warmupSteps: state.plan.warmupSteps, totalSteps: state.plan.totalSteps, minFactor: 0.01 }),
  );
  if (resuming) {
    const saved = readJsonFile(join(runDir, 'last', 'state.json'), 'training state') as Omit<TrainState, 'plan'> & { plan?: SchedulePlan };
    state = { ...saved, plan: saved.plan ?? epochPlan(batchesPerEpoch, options.epochs) };
    // More (or fewer) epochs under --override: the cosine ends at the new last step.
    if (state.plan.sizedBy === 'epochs' && state.plan.epochSteps !== epochPlan(batchesPerEpoch, options.epochs).epochSteps) state.plan = epochPlan(batchesPerEpoch, options.epochs);
    run.resumedBy = [...(run.resumedBy ?? []), collectProvenance()];
    // Resumed by another number of processes (--override worldSize): the record says what runs now.
    if ((run.train.worldSize ?? 1) !== dp.worldSize) run.train = { ...run.train, worldSize: dp.worldSize };
    // A checkpoint resumes on any device: the record says where the run goes on.
    run.train = { ...run.train, device: options.device ?? 'cpu' };
    // When to stop may change on a resume (typed again); the record says what is in force.
    for (const key of FREE_RESUME_OPTIONS) if (options[key] !== undefined) (run.train as Record<string, unknown>)[key] = options[key];
    if (Object.keys(reconciled.changed).length > 0) {
      const changes = Object.entries(reconciled.changed).map(([k, [a, b]]) => `${k} ${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
      log(`tgcnet: --override: resuming with ${changes.join(', ')}: this run no longer replays an uninterrupted one`);
      run.resumeOverrides = [...(run.resumeOverrides ?? []), { step: state.globalStep, changed: Object.fromEntries(Object.entries(reconciled.changed).map(([k, [, b]]) => [k, b])) }];
      const { data, ...trainChanges } = Object.fromEntries(Object.entries(reconciled.changed).map(([k, [, b]]) => [k, b]));
      run.train = { ...run.train, ...trainChanges };
      if (typeof data === 'string') run.data = { ...run.data, root: data };
    }
    if (dp.isMain) writeRunRecord(runDir, run);
    loadWeights(model, run, join(runDir, 'last'));
    tidy(() => {
      const opt = loadSafetensors(join(runDir, 'last', 'optimizer.safetensors'));
      optimizer.loadStateDict({ step: state.globalStep, tensors: opt });
      for (const t of opt.values()) t.dispose();
    });
    schedule.setStep(state.globalStep);
    if (state.gradScaler) gradScaler.loadStateDict(state.gradScaler);
    log(`tgcnet: resuming ${runDir} at epoch ${state.epoch + 1}, batch ${state.batchInEpoch}, step ${state.globalStep}`);
  } else {
    // What predict, eval and serve need besides the weights travels with the run (run/portable.ts).
    if (dp.isMain) {
      run.tokenizer = bundleTokenizer(runDir, tokenizerPath);
      if (clipSource) bundleClipConfig(runDir, clipSource);
      if (auxFile && !previous) bundleAuxFile(runDir, auxFile);
      writeRunRecord(runDir, run);
    }
    if (config.objective.textWarmup > 0) {
      // Every rank draws the same prompts and averages its gradients with the others: the weights stay equal.
      const why = textWarmupUnusable(model, { pretrained: clipSource !== null });
      if (why) {
        log(`tgcnet: objective.textWarmup ${config.objective.textWarmup} skipped: ${why}`);
      } else {
        const warmProgress = new Progress({ total: config.objective.textWarmup, quiet: options.quiet === true });
        const warm = warmUpText(
          model,
          trainCases,
          tokenizer,
          {
            steps: config.objective.textWarmup,
            batch: TEXT_WARMUP_BATCH,
            lr,
            weightDecay: options.weightDecay ?? 1e-2,
            seed: options.seed,
            promptAugment: options.promptAugment,
            device: execution.device,
            averageGradients: (ps) => dp.averageGradients(ps),
          },
          (step, loss) => warmProgress.count(step, `text warm-up, reconstruction loss ${loss.toFixed(4)}`),
        );
        warmProgress.done();
        if (dp.distributed) dp.checkSameWeights(model.parameters());
        // The budget includes it.
        state.elapsedSeconds += warm.seconds;
        log(
          `tgcnet: text warm-up: ${warm.steps} steps of ${TEXT_WARMUP_BATCH} prompts in ${warm.seconds.toFixed(1)} s, ` +
            `reconstruction loss ${warm.firstLoss.toFixed(4)} -> ${warm.lastLoss.toFixed(4)} (--set objective.textWarmup=0: off)`,
        );
      }
    }
  }
  // Rank 0 keeps the log; the other ranks' appends go nowhere.
  const metricsLog = dp.isMain ? new MetricsLog(runDir) : { append: () => {} };
  if (resuming && metricsLog instanceof MetricsLog) {
    const savedEntry = readJsonFile(join(runDir, 'last', 'metrics.json'), 'checkpoint metrics') as Record<string, unknown>;
    const { dropped, restored } = metricsLog.reconcile(state.globalStep, savedEntry);
    if (dropped > 0 || restored) log(`tgcnet: metrics.jsonl made to agree with last/: ${dropped} line(s) past step ${state.globalStep} dropped${restored ? ', its own line restored' : ''}`);
  }

  // SIGINT (Ctrl-C) and SIGTERM (kill, docker stop, Slurm) both save the last checkpoint and
  // stop; the command then exits 130 or 143, as a shell reports a process those signals ended.
  let interruptedBy: 'SIGINT' | 'SIGTERM' | null = null;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interruptedBy) process.exit(signal === 'SIGTERM' ? 143 : 130);
    interruptedBy = signal;
    process.stderr.write(`\ntgcnet: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: saving the last checkpoint (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`);
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  // Frozen CLIP features, computed in epoch 1 and read after (the tower's weights are final here).
  const cacheUnusable = featureCacheUnusable(model, options.augment);
  let visionCache: VisionFeatureCache | null = null;
  if (options.featureCache !== false && cacheUnusable === null) {
    const root = options.featureCache ? resolve(options.featureCache) : join(runDir, 'feature-cache');
    visionCache = VisionFeatureCache.open(root, model, execution, (m) => log(`tgcnet: warning: ${m}`));
    log(`tgcnet: frozen CLIP features cached in ${visionCache.dir}: computed once per image, then read (--no-feature-cache: off)`);
  } else if (options.featureCache && cacheUnusable !== null) {
    log(`tgcnet: --feature-cache not used: ${cacheUnusable}`);
  }

  const startedAt = performance.now() - state.elapsedSeconds * 1000;
  const elapsed = () => (performance.now() - startedAt) / 1000;
  const budget = options.maxMinutes ? options.maxMinutes * 60 : Number.POSITIVE_INFINITY;
  const progress = new Progress({ total: state.plan.totalSteps, quiet: options.quiet === true });
  // Budget sizing: a first estimate after a few steps (the first ones pay for warm caches),
  // a second one after the first validation, which is then measured rather than guessed.
  const MEASURE_FROM = 5;
  const MEASURE_TO = 35;
  let measureStart = 0;
  let stepSecondsThisEpoch = 0;
  let stepsTimedThisEpoch = 0;
  const replan = (measuredStep: number, measuredValidation: number, keepWithin?: number) => {
    // Every rank must plan the same schedule: the slowest rank's clocks decide.
    const [stepSeconds, validationSeconds, now] = dp.max([measuredStep, measuredValidation, elapsed()]);
    state.plan = resizeToBudget(state.plan, { secondsLeft: budget - now, step: state.globalStep, stepSeconds, validationSeconds, batchesPerEpoch, keepWithin });
    schedule.setStep(state.globalStep);
    progress.total = state.plan.totalSteps;
    const e = state.plan.estimates[state.plan.estimates.length - 1];
    log(
      `tgcnet: time budget: ${e.stepSeconds.toFixed(3)} s/step, validation ${e.validationSeconds.toFixed(1)} s: ` +
        `${state.plan.totalSteps} steps in all (${(state.plan.totalSteps / batchesPerEpoch).toFixed(2)} epochs), warm-up ${state.plan.warmupSteps}`,
    );
  };
  let stoppedBy: TrainResult['stoppedBy'] = 'epochs';
  // Data-parallel: what the ranks agreed after the last step (any rank over the budget stops them all).
  let agreedOverBudget = false;
  /** One collective per step: the mean loss, and whether any rank was signalled, lost its launcher or ran out of time. */
  const agree = (loss: number): number => {
    if (!dp.distributed) return loss;
    const [total, sigint, sigterm, over, gone] = dp.sum([loss, interruptedBy === 'SIGINT' ? 1 : 0, interruptedBy === 'SIGTERM' ? 1 : 0, elapsed() > budget ? 1 : 0, dp.launcherGone() ? 1 : 0]);
    if (interruptedBy === null && sigint + sigterm + gone > 0) interruptedBy = sigterm + gone > 0 ? 'SIGTERM' : 'SIGINT';
    agreedOverBudget = over > 0;
    return total / dp.worldSize;
  };
  let weightsSha256: string | null = null;
  let stepsThisRun = 0;
  // --profile N: steps 4..N+3 of this invocation (the first ones pay for warm caches); rank 0.
  const PROFILE_FROM = 3;
  const profileSteps = dp.isMain ? (options.profile ?? 0) : 0;
  let profiling = false;
  let profileStarted = 0;
  const finishProfile = () => {
    if (!profiling) return;
    profiling = false;
    const ops = profiler.stop();
    const steps = stepsThisRun - PROFILE_FROM;
    const wallMs = performance.now() - profileStarted;
    const table = profiler.formatTable(ops, { top: 30, per: steps, perLabel: 'step' });
    process.stderr.write(`tgcnet: profile of ${steps} step(s), ${(wallMs / steps).toFixed(1)} ms/step of wall time (per-operator self time; backward runs on other threads):\n${table}\n`);
    writeFileAtomic(join(runDir, 'profile.json'), `${JSON.stringify({ steps, wallMsPerStep: wallMs / steps, threads: getNumThreads(), device: execution.device, precision: execution.precision, ops }, null, 2)}\n`);
  };

  const saveLast = (metrics: Record<string, unknown>) => {
    const scalerState = gradScaler.enabled ? { gradScaler: gradScaler.stateDict() } : {};
    if (dp.isMain) saveCheckpoint(runDir, 'last', { model, run, metrics, optimizer: optimizer.stateDict(), state: { ...state, ...scalerState, elapsedSeconds: elapsed() } });
  };
  const saveBest = (metrics: Record<string, unknown>) => {
    if (dp.isMain) saveCheckpoint(runDir, 'best', { model, run, metrics });
  };

  const validate = async (): Promise<{ diceMacro: number; diceMicro: number; iouMacro: number; iouMicro: number; seconds: number }> => {
    const t0 = performance.now();
    // Each rank scores its share of the cases; pooled counts give one process's figures.
    const summary = await evaluateCases(model, dp.shardCases(valCases), { config, tokenizer, batch: options.batch, atOriginalSize: false, execution, visionCache, decodedCache });
    if (!dp.distributed) {
      return { diceMacro: summary.dice.macro, diceMicro: summary.dice.micro, iouMacro: summary.iou.macro, iouMicro: summary.iou.micro, seconds: (performance.now() - t0) / 1000 };
    }
    const own: EvaluationCounts = { intersection: 0, predicted: 0, actual: 0, diceSum: 0, iouSum: 0, cases: summary.metric.cases.length };
    for (const c of summary.metric.cases) {
      own.intersection += c.intersection;
      own.predicted += c.predicted;
      own.actual += c.actual;
      own.diceSum += diceOf(c);
      own.iouSum += iouOf(c);
    }
    const scores = scoresOf(dp.combine(own));
    const [seconds] = dp.max([(performance.now() - t0) / 1000]);
    return { ...scores, seconds };
  };

  try {
    model.train();
    epochs: while (state.epoch < options.epochs) {
      let lossSum = 0;
      let lossCount = 0;
      const epochStart = performance.now();
      let imagesThisEpoch = 0;
      // Steps are timed wall to wall, so waiting for the loader counts: the budget pays for it.
      let tick = performance.now();
      for await (const batch of loader.epoch(state.epoch, state.batchInEpoch)) {
        // Every step draws from its own seed: a resumed run replays the same randomness.
        manualSeed((options.seed * 1_000_003 + state.globalStep) >>> 0);
        if (profileSteps > 0 && stepsThisRun === PROFILE_FROM && !profiling) {
          profiling = true;
          profileStarted = performance.now();
          profiler.start();
        }
        const loss = tidy(() => {
          const mb = collate(batch.cases, {
            config,
            tokenizer,
            augment: options.augment === false ? null : options.augment === 'flip' ? FLIP_ONLY : DEFAULT_AUGMENT,
            seed: options.seed * 7_777_777 + state.globalStep,
            promptAugment: options.promptAugment,
            negativeRate: options.negativePrompts,
            caseOffset: batch.offset,
            device: execution.device,
          });
          // Forward and loss under autocast (fp32: as they are).
          const loss = underPrecision(execution, () => {
            const inputs = visionCache && mb.inputs.vitPixels ? { ...mb.inputs, vision: visionCache.features(model, mb.inputs.vitPixels) } : mb.inputs;
            return trainingLoss(config, model.forwardTrain(inputs), mb.masks!);
          });
          optimizer.zeroGrad();
          gradScaler.scale(loss).backward();
          // Averaged while still scaled, so every rank unscales the same sums and skips the same steps.
          dp.averageGradients(params);
          gradScaler.unscale_(optimizer);
          optim.clipGradNorm_(params, 1.0);
          gradScaler.step(optimizer);
          gradScaler.update();
          return agree(loss.item());
        });
        schedule.step();
        state.globalStep += 1;
        const now = performance.now();
        stepSecondsThisEpoch += (now - tick) / 1000;
        stepsTimedThisEpoch += 1;
        tick = now;
        state.batchInEpoch += 1;
        stepsThisRun += 1;
        if (profiling && stepsThisRun === PROFILE_FROM + profileSteps) finishProfile();
        imagesThisEpoch += batch.cases.length * dp.worldSize;
        lossSum += loss;
        lossCount += 1;
        const ips = imagesThisEpoch / ((performance.now() - epochStart) / 1000);
        progress.update(state.globalStep, {
          epoch: state.epoch + 1,
          epochs: options.epochs,
          loss,
          imagesPerSecond: ips,
          budgetLeft: budget - elapsed(),
        });
        if (Number.isFinite(budget) && state.plan.estimates.length === 0) {
          if (stepsThisRun === MEASURE_FROM) measureStart = performance.now();
          if (stepsThisRun === MEASURE_TO) {
            const stepSeconds = (performance.now() - measureStart) / 1000 / (MEASURE_TO - MEASURE_FROM);
            // Validation runs forward only, on every validation case: about half a training
            // step's time per batch, a guess the second estimate replaces with a measurement.
            // 30 steps are seconds of wall time: a plan within 10% of fitting is kept until the
            // epoch's own measurement (a burst of load must not reshape the schedule).
            replan(stepSeconds, (valCases.length / options.batch) * stepSeconds * 0.5, 0.1);
          }
        }
        if (state.globalStep >= state.plan.totalSteps && state.plan.sizedBy === 'time-budget') {
          stoppedBy = 'schedule';
          break epochs;
        }
        if (interruptedBy) {
          stoppedBy = 'interrupt';
          break epochs;
        }
        if (dp.distributed ? agreedOverBudget : elapsed() > budget) {
          stoppedBy = 'time-budget';
          break epochs;
        }
        if (options.maxSteps !== undefined && stepsThisRun >= options.maxSteps) {
          stoppedBy = 'max-steps';
          break epochs;
        }
      }
      // ---- end of epoch: validate, checkpoint, early stopping ----
      const val = await validate();
      agree(0);
      model.train();
      if (Number.isFinite(budget) && state.plan.estimates.length >= 1 && stepsTimedThisEpoch > 0 && state.globalStep < state.plan.totalSteps) {
        // Wall time per step over the whole epoch (data loading included), and the validation as it ran.
        // Every epoch, not only the first: a machine that slows later (other work, a shared host)
        // otherwise cuts the cosine short (a QaTa 60-minute run stopped at 89% of its plan when its
        // throughput fell from 14 to 11.5 images/s after epoch 1). Later epochs leave a plan within
        // 2% alone, so the schedule does not twitch with every epoch's noise.
        replan(stepSecondsThisEpoch / stepsTimedThisEpoch, val.seconds, state.plan.estimates.length >= 2 ? 0.02 : undefined);
      }
      stepSecondsThisEpoch = 0;
      stepsTimedThisEpoch = 0;
      const epochLoss = lossSum / Math.max(1, lossCount);
      const improved = val.diceMicro > state.bestDice;
      state.epoch += 1;
      state.batchInEpoch = 0;
      if (improved) {
        state.bestDice = val.diceMicro;
        state.bestEpoch = state.epoch;
        state.epochsWithoutImprovement = 0;
      } else {
        state.epochsWithoutImprovement += 1;
      }
      const entry = {
        type: 'epoch',
        epoch: state.epoch,
        step: state.globalStep,
        trainLoss: epochLoss,
        val,
        lr: schedule.lr[0],
        seconds: elapsed(),
        imagesPerSecond: imagesThisEpoch / ((performance.now() - epochStart) / 1000),
        liveTensors: memory().tensors,
        // Training and validation images read from the frozen-CLIP cache, computed, and written.
        ...(visionCache ? { featureCache: visionCache.takeStats() } : {}),
        ...(decodedCache ? { pixelCache: { cases: decodedCache.size, mebibytes: decodedCache.bytes / MiB, full: decodedCache.full } } : {}),
        // Data-parallel: the share of the epoch's wall time rank 0 spent in collectives.
        ...(dp.distributed ? { communicationShare: dp.takeCommunicationSeconds() / ((performance.now() - epochStart) / 1000) } : {}),
      };
      progress.line(
        `epoch ${state.epoch}/${options.epochs}: loss ${epochLoss.toFixed(4)}, val Dice ${val.diceMicro.toFixed(4)} micro / ${val.diceMacro.toFixed(4)} macro` +
          `${improved ? ' (best)' : ''}, ${entry.imagesPerSecond.toFixed(1)} img/s` +
          (entry.communicationShare === undefined ? '' : `, ${(100 * entry.communicationShare).toFixed(1)}% in collectives`),
      );
      if (decodedCache && !pixelCacheReported) {
        pixelCacheReported = true;
        log(
          `tgcnet: decoded pixels of ${decodedCache.size} cases kept in memory for the next epochs (${(decodedCache.bytes / MiB).toFixed(1)} MiB)` +
            (decodedCache.full ? `; the ${pixelCacheMb} MiB budget is full, so the other cases are decoded every epoch (raise --pixel-cache-mb)` : '; --pixel-cache-mb 0: off'),
        );
      }
      if (improved) saveBest(entry);
      saveLast(entry);
      metricsLog.append(entry);
      if (interruptedBy) {
        // Signalled during validation: the epoch's checkpoint is saved, nothing is left to keep.
        stoppedBy = 'interrupt';
        break;
      }
      if (options.patience && state.epochsWithoutImprovement >= options.patience) {
        stoppedBy = 'early-stopping';
        break;
      }
    }
    if (stoppedBy === 'interrupt' && state.batchInEpoch > 0) {
      // A signal mid-epoch: save at once for an exact resume (a validation could outlast the
      // grace period a scheduler gives before SIGKILL).
      const entry = { type: 'stop', reason: stoppedBy, signal: interruptedBy, epoch: state.epoch + state.batchInEpoch / batchesPerEpoch, step: state.globalStep, seconds: elapsed() };
      saveLast(entry);
      metricsLog.append(entry);
      progress.line(`stopped by ${interruptedBy} at step ${state.globalStep}: last/ saved; continue with --resume`);
    } else if (stoppedBy !== 'epochs' && stoppedBy !== 'early-stopping' && stoppedBy !== 'interrupt') {
      // Mid-epoch stop: keep exact-resume state; validate so `best` reflects these weights.
      const val = await validate();
      const entry = { type: 'stop', reason: stoppedBy, epoch: state.epoch + state.batchInEpoch / batchesPerEpoch, step: state.globalStep, val, seconds: elapsed() };
      if (val.diceMicro > state.bestDice) {
        state.bestDice = val.diceMicro;
        state.bestEpoch = state.epoch + 1;
        saveBest(entry);
      }
      saveLast(entry);
      metricsLog.append(entry);
      progress.line(
        stoppedBy === 'schedule'
          ? `schedule complete (sized to the ${options.maxMinutes}-minute budget) at step ${state.globalStep}: val Dice ${val.diceMicro.toFixed(4)} micro`
          : `stopped (${stoppedBy}) at step ${state.globalStep}: val Dice ${val.diceMicro.toFixed(4)} micro; resume with --resume`,
      );
    } else if (stoppedBy === 'interrupt') {
      progress.line(`stopped by ${interruptedBy} after epoch ${state.epoch}: last/ saved; continue with --resume`);
    }
    if (dp.distributed) {
      weightsSha256 = dp.checkSameWeights(model.parameters());
      log(`tgcnet: ${dp.worldSize} processes: the weights are identical on every rank (sha256 ${weightsSha256.slice(0, 16)})`);
    }
  } finally {
    // A run that ended inside the profiled steps reports the steps it took.
    if (profiling) finishProfile();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    progress.done();
    optimizer.dispose();
    model.dispose();
  }
  return {
    runDir,
    epochs: state.epoch,
    steps: state.globalStep,
    bestDice: state.bestDice,
    bestEpoch: state.bestEpoch,
    stoppedBy,
    ...(interruptedBy ? { signal: interruptedBy } : {}),
    plan: state.plan,
    seconds: elapsed(),
    ...(weightsSha256 ? { ranks: { worldSize: dp.worldSize, weightsSha256 } } : {}),
  };
}
