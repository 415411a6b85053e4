// Lung zones in whatever words a clinician uses, and the same zones in one canonical wording.
//
// readLungZones understands LViT's template ("upper middle lower left lung", "all left lung"),
// a radiologist's zone names ("right upper zone", "left base", "both apices", "lower zones of
// both lungs") and the slips real reports carry (typos such as "midlle", words run together such
// as "leftlung", any case and spacing). restateZones writes zones the way the QaTa captions we
// train on are normalised. Together they give DATE an auxiliary text that says what the prompt
// means, whatever its wording (issue 11, item 8): the main prompt may vary, the restatement
// does not.
import { LEVELS, type Level, NUMBER_WORDS, SIDES, type Side } from './glossary.js';

export interface Zone {
  side: Side;
  level: Level;
}

const LEVEL_WORDS: Record<string, Level[]> = {
  upper: ['upper'],
  superior: ['upper'],
  apical: ['upper'],
  middle: ['middle'],
  mid: ['middle'],
  lower: ['lower'],
  inferior: ['lower'],
  basal: ['lower'],
  all: [...LEVELS],
  whole: [...LEVELS],
  entire: [...LEVELS],
};
/** Nouns that are a level by themselves: "left base", "both apices". */
const LEVEL_NOUNS: Record<string, Level> = { apex: 'upper', apices: 'upper', base: 'lower', bases: 'lower' };
const SIDE_WORDS: Record<string, Side[]> = { left: ['left'], right: ['right'], both: ['left', 'right'] };
const LUNG_NOUNS = new Set(['lung', 'lungs', 'zone', 'zones', 'field', 'fields', 'lobe', 'lobes', 'hemithorax']);
const JOINERS = new Set(['and', ',', '&']);

/** Words the cleaner corrects towards and splits run-together text into. */
const LEXICON = new Set([
  ...Object.keys(LEVEL_WORDS),
  ...Object.keys(LEVEL_NOUNS),
  ...Object.keys(SIDE_WORDS),
  ...LUNG_NOUNS,
  ...NUMBER_WORDS,
  'bilateral', 'unilateral', 'pulmonary', 'infection', 'infected', 'infiltrate', 'area', 'areas', 'and', 'of', 'the', 'in',
  'with', 'at', 'opacity', 'opacities', 'consolidation', 'pneumonia', 'patchy', 'change', 'changes', 'involvement',
]);

/** Damerau-Levenshtein (optimal string alignment) distance, stopping early above `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    let rowMin = Number.POSITIVE_INFINITY;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      rowMin = Math.min(rowMin, d[i][j]);
    }
    if (rowMin > max) return max + 1;
  }
  return d[a.length][b.length];
}

/** The one lexicon word within reach of a misspelling (1 edit, 2 for long words), else null. */
function correct(word: string): string | null {
  if (word.length < 4) return null;
  const max = word.length >= 7 ? 2 : 1;
  let best: string | null = null;
  let bestDistance = max + 1;
  let tie = false;
  for (const w of LEXICON) {
    const dist = editDistance(word, w, max);
    if (dist < bestDistance) [best, bestDistance, tie] = [w, dist, false];
    else if (dist === bestDistance) tie = true;
  }
  return best !== null && !tie ? best : null;
}

/** Splits run-together words ("upperleftlung") into lexicon words, or null. */
function split(word: string): string[] | null {
  const best: (string[] | null)[] = [[]];
  for (let end = 1; end <= word.length; end++) {
    best[end] = null;
    for (let start = Math.max(0, end - 12); start < end; start++) {
      const part = word.slice(start, end);
      const before = best[start];
      if (before && part.length >= 2 && LEXICON.has(part) && (best[end] === null || before.length + 1 < best[end]!.length)) best[end] = [...before, part];
    }
  }
  const parts = best[word.length];
  return parts && parts.length >= 2 ? parts : null;
}

/** Lower-case words and commas, misspellings corrected and run-together words split. */
export function cleanWords(text: string): string[] {
  const raw = text.normalize('NFKC').toLowerCase().match(/[a-z]+|,|&/g) ?? [];
  const out: string[] = [];
  for (const w of raw) {
    if (w === ',' || w === '&' || LEXICON.has(w)) out.push(w);
    else out.push(...(split(w) ?? [correct(w) ?? w]));
  }
  return out;
}

/**
 * The lung zones a prompt names, in LEVELS x SIDES order, or null when it names none. A side
 * named without a level ("left lung", "all left lung") means the whole lung.
 */
export function readLungZones(text: string): Zone[] | null {
  const w = cleanWords(text);
  const found = new Set<string>();
  const note = (sides: readonly Side[], levels: readonly Level[]) => {
    for (const side of sides) for (const level of levels) found.add(`${side} ${level}`);
  };
  const levelAt = (i: number): Level[] | null => (i >= 0 && i < w.length ? (LEVEL_WORDS[w[i]] ?? null) : null);
  /** Levels in a run starting at i going in direction step ("upper and lower", "upper, middle"). */
  const run = (i: number, step: 1 | -1): { levels: Level[]; end: number } => {
    const levels: Level[] = [];
    let j = i;
    for (;;) {
      const l = levelAt(j);
      if (l) {
        levels.push(...l);
        j += step;
      } else if (levels.length > 0 && JOINERS.has(w[j]) && levelAt(j + step)) {
        j += step;
      } else {
        break;
      }
    }
    return { levels, end: j };
  };
  for (let i = 0; i < w.length; i++) {
    // "bilateral lower zones" is both sides; "bilateral pulmonary infection" names no zone.
    const sides = SIDE_WORDS[w[i]] ?? (w[i] === 'bilateral' && (levelAt(i + 1) || LEVEL_NOUNS[w[i + 1]]) ? SIDES : undefined);
    if (!sides) continue;
    // Levels after the side: "right upper zone", "left upper and middle zones", "left base".
    const after = run(i + 1, 1);
    if (after.levels.length > 0) {
      note(sides, after.levels);
      continue;
    }
    if (LEVEL_NOUNS[w[i + 1]]) {
      note(sides, [LEVEL_NOUNS[w[i + 1]]]);
      continue;
    }
    // Levels before the side: "upper middle lower left lung", "upper and lower right lung".
    const before = run(i - 1, -1);
    if (before.levels.length > 0) {
      note(sides, before.levels);
      continue;
    }
    // "lower zones of both lungs".
    if (w[i - 1] === 'of' && LUNG_NOUNS.has(w[i - 2])) {
      const levels = run(i - 3, -1).levels;
      if (levels.length > 0) {
        note(sides, levels);
        continue;
      }
    }
    // A side with its lung and no level: the whole lung.
    if (LUNG_NOUNS.has(w[i + 1])) note(sides, LEVELS);
  }
  if (found.size === 0) return null;
  return SIDES.flatMap((side) => LEVELS.filter((level) => found.has(`${side} ${level}`)).map((level) => ({ side, level })));
}

/**
 * The zones in the normalised QaTa wording: "bilateral pulmonary infection, two infected areas,
 * lower left lung and lower right lung."
 */
export function restateZones(zones: readonly Zone[]): string {
  if (zones.length === 0) throw new Error('restateZones: no zones');
  const phrases = SIDES.map((side) => {
    const levels = LEVELS.filter((l) => zones.some((z) => z.side === side && z.level === l));
    return levels.length > 0 ? `${levels.join(' ')} ${side} lung` : null;
  }).filter((p): p is string => p !== null);
  const n = new Set(zones.map((z) => `${z.side} ${z.level}`)).size;
  const count = `${n < NUMBER_WORDS.length ? NUMBER_WORDS[n] : String(n)} infected area${n === 1 ? '' : 's'}`;
  return `${phrases.length === 2 ? 'bilateral' : 'unilateral'} pulmonary infection, ${count}, ${phrases.join(' and ')}.`;
}

/** The canonical restatement of a prompt's lung zones, or null when it names none. */
export function restatePrompt(text: string): string | null {
  const zones = readLungZones(text);
  return zones ? restateZones(zones) : null;
}
