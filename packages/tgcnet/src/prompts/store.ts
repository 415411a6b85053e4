// The auxiliary prompts file: JSON Lines, one {"prompt", "aux", "source", "model"} object per
// line, written by `tgcnet prompts` (append + fsync, so an interrupted run leaves at most a
// partial last line) and read by training, evaluation and prediction.
//
// Lookup: the exact prompt text first, then its normalised form (lower case, runs of white
// space made one space, trailing periods ignored), so "Bilateral pulmonary infection ... lung."
// and "bilateral pulmonary infection ... lung" share an entry.
import { readFileSync } from 'node:fs';

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
