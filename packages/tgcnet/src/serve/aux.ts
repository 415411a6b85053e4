// Auxiliary text for a request that sends none: the run's auxiliary prompts file (the one
// training used, else <data>/aux_prompts.jsonl), read once at start-up, looked up by exact
// then normalised prompt, as `predict` does. A miss is not an error: the model runs
// without aux (DATE then adds nothing), and the answer says so.
import { type LoadedRun, runAuxSpec } from '../run/checkpoint.js';
import { isOfflineAux, offlineAux } from '../prompts/aux_source.js';
import { usesAux } from '../model/tgcnet.js';
import { AuxIndex, findAuxPrompts, readAuxPrompts } from '../prompts/store.js';

export type AuxSource = 'request' | 'aux_prompts' | 'offline' | 'none';

export interface ResolvedAux {
  aux: string | null;
  source: AuxSource;
  /** Why there is no aux, or why a given one has no effect; null when all is as asked. */
  note: string | null;
}


export class AuxResolver {
  readonly usesAux: boolean;
  readonly file: string | null;
  /** The run trained with the offline expander on the fly: every prompt gets its text. */
  readonly offline: boolean;
  readonly #index: AuxIndex | null;
  readonly warnings: string[] = [];

  constructor(run: LoadedRun) {
    this.usesAux = usesAux(run.run.model);
    const spec = runAuxSpec(run);
    this.offline = this.usesAux && isOfflineAux(spec);
    let file: string | null = null;
    if (this.usesAux && !this.offline) {
      try {
        file = findAuxPrompts(run.run.data.root, spec);
      } catch (err) {
        this.warnings.push((err as Error).message);
      }
    }
    this.file = file;
    this.#index = file === null ? null : new AuxIndex(readAuxPrompts(file, (m) => this.warnings.push(m)));
  }

  resolve(prompt: string, given: string | null): ResolvedAux {
    if (given !== null && given.trim() !== '') {
      const note = this.usesAux ? null : 'this model does not use auxiliary text (its config has text=main-only or DATE off): aux was ignored';
      return { aux: given, source: 'request', note };
    }
    if (!this.usesAux) return { aux: null, source: 'none', note: null };
    if (this.offline) return { aux: offlineAux(prompt), source: 'offline', note: null };
    if (this.#index === null) {
      return { aux: null, source: 'none', note: 'no auxiliary prompts file for this run: segmented without aux (send an aux field, or write one with `tgcnet prompts`)' };
    }
    const entry = this.#index.get(prompt);
    if (!entry) return { aux: null, source: 'none', note: `${this.file} has no entry for this prompt: segmented without aux (send an aux field to give one)` };
    return { aux: entry.aux, source: 'aux_prompts', note: null };
  }
}
