// Auxiliary text for a request that sends none: the run's auxiliary prompts file (the one
// training used, else <data>/aux_prompts.jsonl), read once at start-up, looked up by exact
// then normalised prompt, as `predict` does. A miss is not an error: the model runs
// without aux (DATE then adds nothing), and the answer says so.
import { type LoadedRun, openRunAux } from '../run/checkpoint.js';
import { usesAux } from '../model/tgcnet.js';
import { AuxPrompts } from '../prompts/aux_prompts.js';

export type AuxSource = 'request' | 'aux_prompts' | 'offline' | 'none';

export interface ResolvedAux {
  aux: string | null;
  source: AuxSource;
  /** Why there is no aux, or why a given one has no effect; null when all is as asked. */
  note: string | null;
}


export class AuxResolver {
  readonly usesAux: boolean;
  readonly #prompts: AuxPrompts | null;
  readonly warnings: string[] = [];

  constructor(run: LoadedRun) {
    this.usesAux = usesAux(run.run.model);
    let prompts: AuxPrompts | null = null;
    if (this.usesAux) {
      try {
        prompts = openRunAux(run, undefined, (m) => this.warnings.push(m));
      } catch (err) {
        this.warnings.push((err as Error).message);
      }
    }
    this.#prompts = prompts;
  }

  /** The prompts file read at start-up, or null ('offline' or none). */
  get file(): string | null {
    return this.#prompts?.file ?? null;
  }

  resolve(prompt: string, given: string | null): ResolvedAux {
    if (given !== null && given.trim() !== '') {
      const note = this.usesAux ? null : 'this model does not use auxiliary text (its config has text=main-only or DATE off): aux was ignored';
      return { aux: given, source: 'request', note };
    }
    if (!this.usesAux) return { aux: null, source: 'none', note: null };
    const origin = this.#prompts?.origin ?? { kind: 'none' as const, reason: 'no auxiliary prompts file for this run' };
    const aux = this.#prompts?.get(prompt) ?? null;
    if (aux !== null) return { aux, source: origin.kind === 'offline' ? 'offline' : 'aux_prompts', note: null };
    if (origin.kind === 'file') return { aux: null, source: 'none', note: 'the auxiliary prompts file has no entry for this prompt: segmented without aux (send an aux field to give one)' };
    return { aux: null, source: 'none', note: 'no auxiliary prompts file for this run: segmented without aux (send an aux field, or write one with `tgcnet prompts`)' };
  }
}
