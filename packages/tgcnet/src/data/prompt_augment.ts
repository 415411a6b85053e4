// Training-time variation of the prompt's words, never of its meaning: clinicians do not
// write in one template, and a model trained on one normalised wording read LViT's original
// wording of the same cases at 0.644 Dice instead of 0.875 (issue 11). Two steps, so that a
// horizontal flip can swap "left" and "right" between them while those are still whole words:
//   rewordZones: the same lung zones in another wording (LViT's "all left lung" and phrase
//     counts, a radiologist's "right upper zone" / "left base" / "both bases", a terse list);
//   addSlips: what typing does to any wording (a dropped, doubled, swapped or wrong letter,
//     two words run together, case, a missing final period).
// Both draw from the step's seeded generator: a resumed run replays them exactly.
import { readLungZones } from '../prompts/zones.js';
import { LEVELS, SIDES, type Zone } from './synth.js';
import { describeZonesClinical } from './synth_clinical.js';

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

function levelsOn(zones: readonly Zone[], side: Zone['side']): Zone['level'][] {
  return LEVELS.filter((l) => zones.some((z) => z.side === side && z.level === l));
}

/** LViT's original style: "Bilateral pulmonary infection, two infected areas, all left lung and lower right lung." */
function lvitStyle(zones: readonly Zone[], rand: () => number): string {
  const phrases: string[] = [];
  for (const side of SIDES) {
    const levels = levelsOn(zones, side);
    if (levels.length === 0) continue;
    phrases.push(levels.length === 3 && rand() < 0.7 ? `all ${side} lung` : `${levels.join(' ')} ${side} lung`);
  }
  // LViT counted phrases ("two infected areas, all left lung and all right lung") or zones.
  const n = rand() < 0.5 ? phrases.length : zones.length;
  const lateral = phrases.length === 2 ? 'Bilateral' : 'Unilateral';
  const count = rand() < 0.8 ? `, ${NUMBER_WORDS[n] ?? n} infected area${n === 1 ? '' : 's'}` : '';
  return `${lateral} pulmonary infection${count}, ${phrases.join(' and ')}.`;
}

/** A terse list: "left upper and middle zones, right lower zone". */
function terseStyle(zones: readonly Zone[], rand: () => number): string {
  const parts: string[] = [];
  for (const side of SIDES) {
    const levels = levelsOn(zones, side);
    if (levels.length === 0) continue;
    const named = levels.length === 1 ? levels[0] : `${levels.slice(0, -1).join(', ')} and ${levels[levels.length - 1]}`;
    parts.push(`${side} ${named} zone${levels.length === 1 ? '' : 's'}`);
  }
  return `${pick(rand, ['Infection', 'Opacity', 'Consolidation'])}: ${parts.join(rand() < 0.5 ? ', ' : '; ')}.`;
}

/** The same zones in another wording; a prompt that names no lung zone comes back unchanged. */
export function rewordZones(text: string, rand: () => number): string {
  const zones = readLungZones(text);
  if (zones === null) return text;
  switch (Math.floor(rand() * 3)) {
    case 0:
      return lvitStyle(zones, rand);
    case 1:
      return describeZonesClinical(zones, rand);
    default:
      return terseStyle(zones, rand);
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function slip(word: string, rand: () => number): string {
  const i = 1 + Math.floor(rand() * (word.length - 2));
  switch (Math.floor(rand() * 4)) {
    case 0:
      return word.slice(0, i) + word.slice(i + 1); // dropped
    case 1:
      return word.slice(0, i) + word[i] + word.slice(i); // doubled
    case 2:
      return word.slice(0, i - 1) + word[i] + word[i - 1] + word.slice(i + 1); // swapped
    default:
      return word.slice(0, i) + pick(rand, [...LETTERS]) + word.slice(i + 1); // wrong key
  }
}

/** Typing slips: per word of four letters or more, a typo with probability `rate`; run-together words; case. */
export function addSlips(text: string, rand: () => number, rate = 0.08): string {
  let out = text
    .split(' ')
    .map((w) => (w.length >= 4 && /^[a-z]+$/i.test(w) && rand() < rate ? slip(w, rand) : w))
    .reduce((acc, w, i) => (i === 0 ? w : acc + (rand() < rate / 2 ? '' : ' ') + w), '');
  const c = rand();
  if (c < 0.3) out = out.toLowerCase();
  else if (c < 0.4) out = out.toUpperCase();
  if (rand() < 0.3) out = out.replace(/\.$/, '');
  return out;
}
