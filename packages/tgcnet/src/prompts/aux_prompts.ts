// Where auxiliary texts come from, opened once and asked per prompt: train, eval, predict and
// serve all hold one AuxPrompts.
//   'offline'  the offline expander for every prompt, on the fly: the canonical zone
//              restatement, also for wordings no file knows (paraphrase augmentation, a
//              clinician's own words at predict time);
//   a file     a JSON Lines file from `tgcnet prompts` (an LLM's or the expander's), looked up by
//              exact, then normalised text (a prompt it lacks gets no aux);
//   nothing    no file given and none beside the dataset: no aux.
// A miss is never an error: the model then runs without aux (DATE adds nothing).
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CaseRecord } from '../data/types.js';
import { expandPrompt } from './expander.js';
import { AUX_PROMPTS_FILE, type AuxEntry, normalisePrompt, readAuxPromptsFile } from './store.js';

/** The --aux-prompts value that selects the offline expander on the fly. */
export const OFFLINE_AUX = 'offline';

export type AuxOrigin = { kind: 'offline' } | { kind: 'file'; file: string } | { kind: 'none'; reason: string };

export interface AttachResult {
  /** Cases that had no aux and got one. */
  attached: number;
  /** Cases that had no aux and still have none. */
  missing: number;
  /** The distinct prompts of those cases (for a warning). */
  missingPrompts: string[];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Where `tgcnet prompts` writes by default and training looks: <folder>/aux_prompts.jsonl (beside a manifest file). */
export function defaultAuxPromptsPath(dataRoot: string): string {
  const root = resolve(dataRoot);
  return join(isDirectory(root) ? root : dirname(root), AUX_PROMPTS_FILE);
}

export class AuxPrompts {
  readonly #exact = new Map<string, AuxEntry>();
  readonly #normalised = new Map<string, AuxEntry>();

  private constructor(readonly origin: AuxOrigin) {}

  /**
   * `spec`: 'offline', a file (which must exist), or undefined: <dataRoot>/aux_prompts.jsonl
   * when there is one. Bad lines in a file are skipped with one warning.
   */
  static open(spec: string | undefined, dataRoot: string | undefined, warn: (message: string) => void = () => {}): AuxPrompts {
    if (spec === OFFLINE_AUX) return new AuxPrompts({ kind: 'offline' });
    let file: string | null = null;
    if (spec !== undefined && spec !== '') {
      file = resolve(spec);
      if (!existsSync(file)) throw new Error(`auxiliary prompts file ${file} does not exist (write one with \`tgcnet prompts\`, or pass --aux-prompts offline)`);
    } else if (dataRoot !== undefined && dataRoot !== '' && existsSync(defaultAuxPromptsPath(dataRoot))) {
      file = defaultAuxPromptsPath(dataRoot);
    }
    if (file === null) {
      const where = dataRoot ? ` (none at ${defaultAuxPromptsPath(dataRoot)})` : '';
      return new AuxPrompts({ kind: 'none', reason: `no auxiliary prompts file${where}` });
    }
    const aux = new AuxPrompts({ kind: 'file', file });
    const { entries, skipped } = readAuxPromptsFile(file);
    if (skipped.length > 0) {
      const shown = skipped.slice(0, 3).map((s) => `line ${s.line}: ${s.reason}`).join('; ');
      warn(`${file}: skipped ${skipped.length} bad line${skipped.length === 1 ? '' : 's'} (${shown}${skipped.length > 3 ? '; ...' : ''})`);
    }
    for (const entry of entries.values()) {
      aux.#exact.set(entry.prompt, entry);
      // A later entry wins, as for exact keys (the map keeps insertion order).
      aux.#normalised.set(normalisePrompt(entry.prompt), entry);
    }
    return aux;
  }

  /** The file read, or null. */
  get file(): string | null {
    return this.origin.kind === 'file' ? this.origin.file : null;
  }

  /** The auxiliary text of a prompt, or null when there is none. */
  get(prompt: string): string | null {
    switch (this.origin.kind) {
      case 'offline':
        return expandPrompt(prompt).text;
      case 'file':
        return (this.#exact.get(prompt) ?? this.#normalised.get(normalisePrompt(prompt)))?.aux ?? null;
      case 'none':
        return null;
    }
  }

  /** Gives every case without aux its text (a dataset's own aux, e.g. a manifest's column, is kept), and each negative prompt its own. */
  attach(cases: CaseRecord[]): AttachResult {
    let attached = 0;
    let missing = 0;
    const missingPrompts = new Set<string>();
    for (const c of cases) {
      for (const n of c.negatives ?? []) if (n.aux === null) n.aux = this.get(n.prompt);
      if (c.aux !== null && c.aux !== '') continue;
      const aux = this.get(c.text);
      if (aux !== null) {
        c.aux = aux;
        attached++;
      } else {
        missing++;
        missingPrompts.add(c.text);
      }
    }
    return { attached, missing, missingPrompts: [...missingPrompts] };
  }

  /** One warning for the cases an attach left without aux, naming the fix; null when none. */
  missingWarning(result: AttachResult): string | null {
    if (result.missing === 0) return null;
    const n = `${result.missing} case${result.missing === 1 ? '' : 's'}`;
    if (this.origin.kind === 'none') {
      return `no auxiliary prompts for ${n}: ${this.origin.reason}, so DATE reads the prompt alone for them; to give it aux texts, write a file with \`tgcnet prompts\` or pass --aux-prompts <file|offline>`;
    }
    const shown = result.missingPrompts.slice(0, 3).map((p) => JSON.stringify(p)).join(', ');
    return (
      `${this.file}: no auxiliary prompt for ${n} (${result.missingPrompts.length} prompt${result.missingPrompts.length === 1 ? '' : 's'}, e.g. ${shown}); ` +
      'rerun `tgcnet prompts` to fill them in; those cases go without aux'
    );
  }
}
