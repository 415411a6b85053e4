// Prompts whose answer for a case is an empty mask: they name only zones where the image holds
// no lesion. Every prompt of a synthetic dataset names at least one of its lesions, so a model
// trained on it alone learns "which of the lesions" and never "whether any": asked about a
// lesion-free zone it marks the nearest opacity. A generator that knows every lesion writes
// such prompts beside its dataset (negative_prompts.jsonl, one {"id", "prompts"} per line);
// training swaps a case's prompt for one of them at a rate (--negative-prompts) with an empty
// target, and evaluation asks each test case one of them and reports how often the answer is
// empty. Real datasets have no such file unless someone writes one (the masks alone cannot
// say which unnamed zones are clear).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import type { CaseRecord } from './types.js';

export const NEGATIVE_PROMPTS_FILE = 'negative_prompts.jsonl';

export interface NegativePromptsEntry {
  /** The case id (the image's file stem). */
  id: string;
  /** Prompts naming only zones without a lesion in this image. */
  prompts: string[];
}

export function negativePromptsPath(dataRoot: string): string {
  const root = resolve(dataRoot);
  const isDir = statSync(root, { throwIfNoEntry: false })?.isDirectory() ?? false;
  return join(isDir ? root : dirname(root), NEGATIVE_PROMPTS_FILE);
}

export function writeNegativePrompts(path: string, entries: readonly NegativePromptsEntry[]): void {
  writeFileAtomic(path, entries.map((e) => `${JSON.stringify({ id: e.id, prompts: e.prompts })}\n`).join(''));
}

/** The file beside a dataset, by case id; null when the dataset has none. A broken line is an error naming it. */
export function readNegativePrompts(dataRoot: string): { file: string; byId: Map<string, string[]> } | null {
  const file = negativePromptsPath(dataRoot);
  if (!existsSync(file)) return null;
  const byId = new Map<string, string[]>();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = null;
      }
      const entry = value as Partial<NegativePromptsEntry> | null;
      if (
        !entry ||
        typeof entry.id !== 'string' ||
        !Array.isArray(entry.prompts) ||
        entry.prompts.length === 0 ||
        !entry.prompts.every((p) => typeof p === 'string' && p.trim() !== '')
      ) {
        throw new Error(`${file} line ${i + 1}: expected {"id": "<case id>", "prompts": ["<prompt>", ...]} with at least one non-empty prompt; fix the line or delete the file (\`tgcnet data synth\` writes it)`);
      }
      byId.set(entry.id, entry.prompts);
    });
  return { file, byId };
}

/** Gives each case its negative prompts (cases the file does not list get none); returns how many got some. */
export function attachNegativePrompts(cases: CaseRecord[], byId: ReadonlyMap<string, string[]>): number {
  let attached = 0;
  for (const c of cases) {
    const prompts = byId.get(c.id);
    if (prompts === undefined) continue;
    c.negatives = prompts.map((prompt) => ({ prompt, aux: null }));
    attached++;
  }
  return attached;
}
