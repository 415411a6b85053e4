// The auxiliary prompts file: JSON Lines, one {"prompt", "aux", "source", "model"} object per
// line, written by `tgcnet prompts` (append + fsync, so an interrupted run leaves at most a
// partial last line) and read by training, evaluation and prediction.
//
// Lookup: the exact prompt text first, then its normalised form (lower case, runs of white
// space made one space, trailing periods ignored), so "Bilateral pulmonary infection ... lung."
// and "bilateral pulmonary infection ... lung" share an entry.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CaseRecord } from '../data/types.js';

/** The file name looked for next to a dataset. */
export const AUX_PROMPTS_FILE = 'aux_prompts.jsonl';

/** Where an auxiliary text came from. */
export type AuxSource = 'llm' | 'offline';

export interface AuxEntry {
  /** The primary (clinical) prompt, as the dataset has it. */
  prompt: string;
  /** The auxiliary description. */
  aux: string;
  /** 'llm' (a chat-completions server) or 'offline' (the glossary expander); others kept verbatim. */
  source: string;
  /** The model name for 'llm', the expander's version for 'offline'; null when unknown. */
  model: string | null;
}

/** One line of the file, as written. */
export function formatAuxLine(entry: AuxEntry): string {
  return `${JSON.stringify({ prompt: entry.prompt, aux: entry.aux, source: entry.source, model: entry.model })}\n`;
}

/** The form prompts are matched under: lower case, collapsed white space, no trailing period. */
export function normalisePrompt(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s.]+$/, '');
}

export interface SkippedLine {
  /** 1-based line number. */
  line: number;
  reason: string;
}

export interface AuxFileContents {
  /** Entries by exact prompt text; a later line for the same prompt replaces an earlier one. */
  entries: Map<string, AuxEntry>;
  /** Lines that were not a valid entry (a truncated last line, hand edits). */
  skipped: SkippedLine[];
  /** Whether the file ends in the middle of a line (an interrupted write). */
  partialLastLine: boolean;
}

function parseLine(line: string): AuxEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (typeof v.prompt !== 'string' || v.prompt.trim() === '') return 'no "prompt" string';
  if (typeof v.aux !== 'string' || v.aux.trim() === '') return 'no "aux" string';
  return {
    prompt: v.prompt,
    aux: v.aux.trim(),
    source: typeof v.source === 'string' ? v.source : 'unknown',
    model: typeof v.model === 'string' ? v.model : null,
  };
}

/** Reads the file and says what it skipped. Throws only when the file cannot be read at all. */
export function readAuxPromptsFile(file: string): AuxFileContents {
  const text = readFileSync(file, 'utf8');
  const entries = new Map<string, AuxEntry>();
  const skipped: SkippedLine[] = [];
  const lines = text.split('\n');
  const partialLastLine = text.length > 0 && !text.endsWith('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') {
      const last = i === lines.length - 1 && partialLastLine;
      skipped.push({ line: i + 1, reason: last ? `${parsed}; the last line is incomplete (an interrupted write?)` : parsed });
      return;
    }
    entries.set(parsed.prompt, parsed);
  });
  return { entries, skipped, partialLastLine };
}

/** Prints a warning for people (the CLI's style: "tgcnet: warning: ..."). */
export function warnToStderr(message: string): void {
  process.stderr.write(`tgcnet: warning: ${message}\n`);
}

/**
 * The entries of an auxiliary prompts file by exact prompt text. Bad lines (a truncated last
 * line after an interrupted run, a hand edit) are skipped and counted in one warning; this
 * never throws for the file's contents, only when the file cannot be read.
 */
export function readAuxPrompts(file: string, warn: (message: string) => void = warnToStderr): Map<string, AuxEntry> {
  const { entries, skipped } = readAuxPromptsFile(file);
  if (skipped.length > 0) {
    const shown = skipped
      .slice(0, 3)
      .map((s) => `line ${s.line}: ${s.reason}`)
      .join('; ');
    warn(`${file}: skipped ${skipped.length} bad line${skipped.length === 1 ? '' : 's'} (${shown}${skipped.length > 3 ? '; ...' : ''})`);
  }
  return entries;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The auxiliary prompts file for a dataset: `explicit` when given (it must exist), else
 * <dataRoot>/aux_prompts.jsonl when dataRoot is a folder, or aux_prompts.jsonl beside it when
 * dataRoot is a file (a manifest); null when there is none.
 */
export function findAuxPrompts(dataRoot: string, explicit?: string): string | null {
  if (explicit !== undefined && explicit !== '') {
    const file = resolve(explicit);
    if (!existsSync(file)) throw new Error(`auxiliary prompts file ${file} does not exist (write one with \`tgcnet prompts\`)`);
    return file;
  }
  const candidate = defaultAuxPromptsPath(dataRoot);
  return existsSync(candidate) ? candidate : null;
}

/** Where `tgcnet prompts` writes by default and training looks: <folder>/aux_prompts.jsonl. */
export function defaultAuxPromptsPath(dataRoot: string): string {
  const root = resolve(dataRoot);
  return join(isDirectory(root) ? root : dirname(root), AUX_PROMPTS_FILE);
}

/** Looks an entry up by exact text, then by normalised text. */
export class AuxIndex {
  private readonly normalised = new Map<string, AuxEntry>();

  constructor(private readonly exact: Map<string, AuxEntry>) {
    for (const entry of exact.values()) {
      const key = normalisePrompt(entry.prompt);
      // A later entry wins, as for exact keys (the map keeps insertion order).
      this.normalised.set(key, entry);
    }
  }

  get(prompt: string): AuxEntry | undefined {
    return this.exact.get(prompt) ?? this.normalised.get(normalisePrompt(prompt));
  }
}

/** The auxiliary entry for one prompt (exact, then normalised match), for `predict` and `serve`. */
export function lookupAux(prompts: Map<string, AuxEntry>, prompt: string): AuxEntry | undefined {
  return new AuxIndex(prompts).get(prompt);
}

export interface AttachResult {
  /** Cases that had no aux and got one. */
  attached: number;
  /** Cases that had no aux and still have none. */
  missing: number;
  /** The distinct prompts of those cases (for a warning). */
  missingPrompts: string[];
}

/**
 * Sets case.aux from the file's entries where the case has none (a dataset's own aux, e.g. a
 * manifest's aux column, is kept). Matches the exact prompt text, then its normalised form.
 */
export function attachAux(cases: CaseRecord[], prompts: Map<string, AuxEntry>): AttachResult {
  const index = new AuxIndex(prompts);
  let attached = 0;
  let missing = 0;
  const missingPrompts = new Set<string>();
  for (const c of cases) {
    if (c.aux !== null && c.aux !== '') continue;
    const entry = index.get(c.text);
    if (entry) {
      c.aux = entry.aux;
      attached++;
    } else {
      missing++;
      missingPrompts.add(c.text);
    }
  }
  return { attached, missing, missingPrompts: [...missingPrompts] };
}

export interface ApplyAuxResult extends AttachResult {
  /** The file read, or null when none was found. */
  file: string | null;
}

/**
 * The one call for train / eval: finds the file (explicit path, else next to the dataset),
 * reads it and attaches its entries. Warns (never throws, except for a missing explicit file)
 * when there is no file or some cases stay without aux; those cases take the no-aux path.
 */
export function applyAuxPrompts(
  cases: CaseRecord[],
  dataRoot: string,
  explicit?: string,
  warn: (message: string) => void = warnToStderr,
): ApplyAuxResult {
  const file = findAuxPrompts(dataRoot, explicit);
  const without = cases.filter((c) => c.aux === null || c.aux === '').length;
  if (file === null) {
    if (without > 0) {
      warn(
        `no auxiliary prompts for ${without} case${without === 1 ? '' : 's'}: no ${defaultAuxPromptsPath(dataRoot)} ` +
          `(write it with \`tgcnet prompts --data ${dataRoot}\`, or name one with --aux-prompts); those cases go without aux`,
      );
    }
    return { file: null, attached: 0, missing: without, missingPrompts: [...new Set(cases.filter((c) => !c.aux).map((c) => c.text))] };
  }
  const result = attachAux(cases, readAuxPrompts(file, warn));
  if (result.missing > 0) {
    const shown = result.missingPrompts
      .slice(0, 3)
      .map((p) => JSON.stringify(p))
      .join(', ');
    warn(
      `${file}: no auxiliary prompt for ${result.missing} case${result.missing === 1 ? '' : 's'} ` +
        `(${result.missingPrompts.length} prompt${result.missingPrompts.length === 1 ? '' : 's'}, e.g. ${shown}); ` +
        `rerun \`tgcnet prompts\` to fill them in; those cases go without aux`,
    );
  }
  return { file, ...result };
}

export interface AuxForPromptOptions {
  /** The dataset the model was trained on (a run's data.root): its aux_prompts.jsonl is used. */
  dataRoot?: string;
  /** An aux prompts file named by the user (--aux-prompts); wins over dataRoot. */
  explicit?: string;
  warn?: (message: string) => void;
}

/**
 * The auxiliary text for one prompt, for `predict` (an explicit --aux wins over this): from the
 * explicit file, else the one beside dataRoot; null, with a warning, when there is no file or
 * no entry. For many lookups (serve), read the file once and use AuxIndex.
 */
export function auxForPrompt(prompt: string, options: AuxForPromptOptions): string | null {
  const warn = options.warn ?? warnToStderr;
  const file = options.dataRoot !== undefined || options.explicit ? findAuxPrompts(options.dataRoot ?? '.', options.explicit) : null;
  if (file === null) {
    warn('no auxiliary prompts file (pass --aux or --aux-prompts, or write one with `tgcnet prompts`): predicting without aux');
    return null;
  }
  const entry = lookupAux(readAuxPrompts(file, warn), prompt);
  if (!entry) {
    warn(`${file} has no entry for ${JSON.stringify(prompt)} (rerun \`tgcnet prompts\`, or pass --aux): predicting without aux`);
    return null;
  }
  return entry.aux;
}
