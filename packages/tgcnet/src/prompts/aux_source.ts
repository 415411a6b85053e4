// Where a run's auxiliary texts come from: a JSON Lines file (`tgcnet prompts`, written by an
// LLM or the offline expander), or `offline`: the expander itself, run on the fly for any
// prompt. A file only knows the prompts it was written for; `offline` also covers prompts
// that only exist at training time (paraphrase augmentation) or at use (a clinician's own
// wording in predict and serve), which is what makes the canonical restatement useful.
import type { CaseRecord } from '../data/types.js';
import { expandPrompt } from './expander.js';
import { type ApplyAuxResult, applyAuxPrompts, auxForPrompt, warnToStderr } from './store.js';

/** The --aux-prompts value that selects the offline expander on the fly. */
export const OFFLINE_AUX = 'offline';

export function isOfflineAux(spec: string | undefined | null): boolean {
  return spec === OFFLINE_AUX;
}

/** The offline auxiliary text of a prompt (the expander never throws). */
export function offlineAux(prompt: string): string {
  return expandPrompt(prompt).text;
}

/**
 * Gives every case without aux its auxiliary text: from the offline expander when `spec` is
 * 'offline', else from the file (`spec`, or the one beside the dataset), as applyAuxPrompts.
 */
export function attachAuxTexts(cases: CaseRecord[], dataRoot: string, spec: string | undefined, warn: (message: string) => void = warnToStderr): ApplyAuxResult {
  if (!isOfflineAux(spec)) return applyAuxPrompts(cases, dataRoot, spec, warn);
  let attached = 0;
  for (const c of cases) {
    if (c.aux !== null && c.aux !== '') continue;
    c.aux = offlineAux(c.text);
    attached++;
  }
  return { file: null, attached, missing: 0, missingPrompts: [] };
}

/** The auxiliary text for one prompt (predict): offline, or looked up in the file. */
export function auxTextFor(prompt: string, options: { dataRoot?: string; spec?: string; warn?: (message: string) => void }): string | null {
  if (isOfflineAux(options.spec)) return offlineAux(prompt);
  return auxForPrompt(prompt, { dataRoot: options.dataRoot, explicit: options.spec, warn: options.warn });
}
