// What a run folder says about itself (config.json): the model configuration, where its text
// and CLIP came from, how it was trained, on what, and by what code on which machine. One
// zod schema, read by training (resume), evaluation, prediction and serving alike, so a
// field is typed once and a broken file is refused with the file and the field named.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile as readJsonFileNamed } from '../fs/read_json.js';
import { PRESET_NAMES, TgcConfig } from '../model/config.js';
import { Provenance } from './provenance.js';

/**
 * The training options a run records: every field TrainOptions has (train/train.ts), and no
 * other (an unknown field is refused with its name, as in the model config).
 */
export const TrainRecord = z
  .object({
    preset: z
      .string()
      .refine((name) => (PRESET_NAMES as string[]).includes(name), { message: `unknown preset: this version knows ${PRESET_NAMES.join(', ')}` })
      .optional(),
    set: z.array(z.string()).optional(),
    epochs: z.number().int().positive().optional(),
    batch: z.number().int().positive().optional(),
    lr: z.number().positive().optional(),
    weightDecay: z.number().nonnegative().optional(),
    maxMinutes: z.number().positive().optional(),
    seed: z.number().int().nonnegative().optional(),
    patience: z.number().int().nonnegative().optional(),
    augment: z.union([z.boolean(), z.literal('flip')]).optional(),
    promptAugment: z.number().min(0).max(1).optional(),
    negativePrompts: z.number().min(0).max(1).optional(),
    valHalf: z.enum(['a', 'b']).optional(),
    limitTrain: z.number().int().positive().optional(),
    limitVal: z.number().int().positive().optional(),
    /** An auxiliary prompts file, or 'offline' (the expander on the fly). */
    auxPrompts: z.string().optional(),
    threads: z.number().int().positive().optional(),
    /** Data-parallel runs: the number of processes (absent: one). */
    worldSize: z.number().int().positive().optional(),
    data: z.string().optional(),
    format: z.string().optional(),
    out: z.string().optional(),
    clip: z.string().optional(),
    tokenizer: z.string().optional(),
    device: z.string().optional(),
    /** Autocast precision of the forward pass (absent: fp32). */
    precision: z.enum(['fp32', 'bf16', 'fp16']).optional(),
    resume: z.boolean().optional(),
    skipBad: z.boolean().optional(),
    maxSteps: z.number().int().positive().optional(),
    /** Where the frozen CLIP features were kept (false: off; absent: <out>/feature-cache when usable). */
    featureCache: z.union([z.string(), z.literal(false)]).optional(),
    /** MiB of decoded pixels kept in memory across epochs (absent: the default, 2048; 0: off); speed only. */
    pixelCacheMb: z.number().int().nonnegative().optional(),
    /** How 2-D masks were binarised: foreground > this value (absent: the automatic rule, MASK_RULE). */
    maskThreshold: z.number().int().min(0).max(254).optional(),
    note: z.string().optional(),
  })
  .strict();
export type TrainRecord = z.infer<typeof TrainRecord>;

export const RunRecord = z.object({
  model: TgcConfig,
  /** Where the frozen, pretrained CLIP came from (its weights are not in checkpoints), or null. */
  clipSource: z.string().nullable(),
  /** The tokenizer files (a folder, tokenizer.json or OpenAI's BPE file). */
  tokenizer: z.string(),
  train: TrainRecord,
  data: z.object({ root: z.string(), format: z.string() }).strict(),
  createdAt: z.string(),
  tgcnetVersion: z.string(),
  /** The hub repository and the exact commit a pretrained CLIP given by name came from. */
  clipHub: z.object({ repo: z.string(), commit: z.string() }).optional(),
  /** Code, engine, machine and command of the run's first invocation (absent in older runs). */
  provenance: Provenance.optional(),
  /** Each --resume appends the provenance of the invocation that continued the run. */
  resumedBy: z.array(Provenance).optional(),
  /** Options a --resume changed under --override, with the step it resumed at. */
  resumeOverrides: z.array(z.object({ step: z.number().int().nonnegative(), changed: z.record(z.string(), z.unknown()) })).optional(),
}).strict();
export type RunRecord = z.infer<typeof RunRecord>;

/** Reads a run's JSON file, naming it when it is missing or broken. */
export function readJsonFile(path: string, what: string): unknown {
  return readJsonFileNamed(path, what, 'restore it or start a new run');
}

export function readRunRecord(runDir: string): RunRecord {
  const path = join(runDir, 'config.json');
  if (!existsSync(path)) throw new Error(`${runDir} is not a tgcnet run folder (no config.json): pass the folder train --out wrote`);
  const r = RunRecord.safeParse(readJsonFile(path, 'run config'));
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${path}: not a valid run config: ${issues}`);
  }
  return r.data;
}
