// JSON files that name themselves when they fail: "Unexpected end of JSON input" alone does not
// say which of a run's, a CLIP folder's or a dataset's files was cut short.
import { readFileSync } from 'node:fs';

/** Reads and parses `path`; `what` says what the file is for ("run config", "CLIP config"). */
export function readJsonFile(path: string, what: string, fix = 'restore it from a copy, or recreate it'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}): the ${what} is damaged or cut short; ${fix}`);
  }
}
