// A copy of a dataset's lung prompts in LViT's original wording, to measure whether a model
// reads the meaning or the template (issue 11, item 8). The QaTa captions we train on are
// normalised ("upper middle lower left lung", zones counted, typos fixed); LViT's own text,
// behind the published QaTa figures, says "all left lung", counts lungs ("two infected areas,
// all left lung and all right lung") and carries slips such as "midlle" and "leftlung".
//
// The rules, deterministic per case id:
//   1. the zones are read from the caption (prompts/zones.ts);
//   2. a side with all three levels becomes "all <side> lung", others keep their levels;
//   3. with an "all" phrase the count is of phrases (lungs), else of zones;
//   4. sentence case ("Bilateral pulmonary infection, ...");
//   5. in 40% of cases one or two slips from a fixed list of LViT-style misspellings.
// Training augmentation (prompt_augment.ts) draws random rewordings and random typos; it
// never sees this list, but it does share rules 2-4 as possibilities among others.
import { hashUnit } from '../random.js';
import { LEVELS, SIDES } from '../prompts/glossary.js';
import { readLungZones } from '../prompts/zones.js';

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'];
/** [what, becomes]: misspellings and run-together words of the kind LViT's text has. */
export const LVIT_SLIPS: readonly (readonly [string, string])[] = [
  ['middle', 'midlle'],
  ['left lung', 'leftlung'],
  ['right lung', 'rightlung'],
  ['infected', 'infeced'],
  ['upper', 'uppper'],
  ['lower', 'lowwer'],
  ['pulmonary', 'pulmonory'],
  ['bilateral', 'bilaterial'],
];

/** The caption in LViT's original style, or null when it names no lung zone. */
export function lvitOriginalWording(caption: string, id: string): string | null {
  const zones = readLungZones(caption);
  if (zones === null) return null;
  const phrases: string[] = [];
  let all = false;
  for (const side of SIDES) {
    const levels = LEVELS.filter((l) => zones.some((z) => z.side === side && z.level === l));
    if (levels.length === 3) {
      all = true;
      phrases.push(`all ${side} lung`);
    } else if (levels.length > 0) {
      phrases.push(`${levels.join(' ')} ${side} lung`);
    }
  }
  const n = all ? phrases.length : zones.length;
  let text = `${phrases.length === 2 ? 'Bilateral' : 'Unilateral'} pulmonary infection, ${NUMBER_WORDS[n]} infected area${n === 1 ? '' : 's'}, ${phrases.join(' and ')}.`;
  if (hashUnit(`slip:${id}`) < 0.4) {
    const applicable = LVIT_SLIPS.filter(([from]) => text.includes(from));
    const count = hashUnit(`slips:${id}`) < 0.5 ? 1 : 2;
    for (let k = 0; k < count && applicable.length > 0; k++) {
      const [from, to] = applicable.splice(Math.floor(hashUnit(`slip${k}:${id}`) * applicable.length), 1)[0];
      text = text.replace(from, to);
    }
  }
  return text;
}
