// --resume replays the run it continues bit for bit only if the options that decide what a
// step computes are the ones the run recorded. Options the user did not type are taken from
// the run; a typed one that differs is refused, unless --override names it (then it is
// applied, logged and recorded in the run).
import { resolve } from 'node:path';
import type { RunRecord } from '../run/record.js';
import type { TrainOptions } from './train.js';

/** The options a resumed run must share with the run it continues. */
export const EXACT_RESUME_OPTIONS = [
  'data',
  'format',
  'preset',
  'set',
  'epochs',
  'batch',
  'lr',
  'weightDecay',
  'seed',
  'augment',
  'promptAugment',
  'negativePrompts',
  'valHalf',
  'limitTrain',
  'limitVal',
  'auxPrompts',
  'skipBad',
  'maskThreshold',
  'worldSize',
  'precision',
] as const;
export type ExactResumeOption = (typeof EXACT_RESUME_OPTIONS)[number];

/** Options a resume may change freely (when to stop, where features are kept: not what a step computes); not typed again, they come from the run too. */
export const FREE_RESUME_OPTIONS = ['patience', 'maxMinutes', 'featureCache', 'pixelCacheMb'] as const;

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function flag(key: string, value: unknown): string {
  if (value === undefined) return `no --${kebab(key)}`;
  if (key === 'augment') return value === false ? '--no-augment' : value === 'flip' ? '--augment flip' : 'augmentation on';
  if (typeof value === 'boolean') return value ? `--${kebab(key)}` : `no --${kebab(key)}`;
  if (Array.isArray(value)) return value.length === 0 ? `no --${kebab(key)}` : value.map((v) => `--${kebab(key)} ${v}`).join(' ');
  return `--${kebab(key)} ${value}`;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export interface ResumeReconciliation {
  options: TrainOptions;
  /** Options changed under --override: name -> [recorded, now]. */
  changed: Record<string, [unknown, unknown]>;
}

/**
 * The options a resume runs with. `explicit` holds the options the user typed (the command
 * line knows; for the library API, null means every option given counts as typed).
 */
export function reconcileResumeOptions(run: RunRecord, given: TrainOptions, explicit: ReadonlySet<string> | null, override: readonly string[]): ResumeReconciliation {
  const recorded: Record<string, unknown> = { ...run.train, data: run.data.root };
  const now: Record<string, unknown> = { ...given, data: resolve(given.data) };
  const unknown = override.filter((o) => !(EXACT_RESUME_OPTIONS as readonly string[]).includes(o));
  if (unknown.length > 0) {
    throw new Error(`--override ${unknown.join(',')}: not an option resume checks; these are: ${EXACT_RESUME_OPTIONS.join(', ')}`);
  }
  const options: Record<string, unknown> = { ...given };
  for (const key of FREE_RESUME_OPTIONS) {
    const typed = explicit === null ? now[key] !== undefined : explicit.has(key);
    if (!typed && key in recorded) options[key] = recorded[key];
  }
  const changed: Record<string, [unknown, unknown]> = {};
  const refused: string[] = [];
  for (const key of EXACT_RESUME_OPTIONS) {
    const typed = explicit === null ? now[key] !== undefined : explicit.has(key);
    if (!typed) {
      if (key in recorded && key !== 'data') options[key] = recorded[key];
      continue;
    }
    // Runs from before --precision existed recorded none: they ran in fp32.
    const fill = (v: unknown) => (key === 'precision' && v === undefined ? 'fp32' : v);
    if (same(fill(recorded[key]), fill(now[key]))) continue;
    if (override.includes(key)) changed[key] = [recorded[key], now[key]];
    else refused.push(`${flag(key, recorded[key])} (now ${flag(key, now[key])})`);
  }
  if (refused.length > 0) {
    throw new Error(
      `--resume: the run was trained with ${refused.join(', ')}. Exact resume needs the options the run recorded: ` +
        'leave these out (the run remembers them), or pass --override <name,...> to apply the change anyway ' +
        '(the resumed run then no longer replays the uninterrupted one)',
    );
  }
  return { options: options as unknown as TrainOptions, changed };
}
