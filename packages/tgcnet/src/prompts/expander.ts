// The offline auxiliary prompt: a short radiological note written from the glossary, for
// users without an LLM. It parses the clinical prompt (laterality, number of areas, the lung
// zones named in LViT's wording "upper middle lower left lung", or an organ / lesion as in
// MSD's "spleen in an abdominal CT slice.") and writes two to four sentences: what is
// involved, where that lies on the image, and how it looks on the modality.
//
// Deterministic: the sentence forms are drawn from a generator seeded by a hash of the
// normalised prompt and the modality, so a prompt always gets the same text, and different
// prompts read differently. The text leads with location, because CLIP reads only its first
// 77 tokens.
import { hash32, mulberry32 } from '../random.js';
import {
  ALL_ZONES,
  IMAGE_NAME,
  IMAGE_SIDE,
  INFECTION_APPEARANCE,
  INFECTION_DISTRIBUTION,
  LESION_HOSTS,
  LEVELS,
  LUNG_ZONES,
  type Level,
  MODALITY_NAME,
  type Modality,
  NUMBER_WORDS,
  ORGANS,
  type OrganFacts,
  SIDES,
  type Side,
} from './glossary.js';
import { normalisePrompt } from './store.js';

/** Written into the file's "model" field for offline entries; bump when the wording changes. */
export const EXPANDER_VERSION = 'tgcnet-glossary-1';

export interface Expansion {
  text: string;
  /** 'lung' and 'organ' come from the glossary; 'generic' means nothing in the prompt was recognised. */
  kind: 'lung' | 'organ' | 'generic';
  modality: Modality | null;
}

/** The modality a prompt names itself ("... CT slice", "chest X-ray"), or null. */
export function detectModality(text: string): Modality | null {
  const t = text.toLowerCase();
  if (/\bct\b|computed tomograph|\bhu\b/.test(t)) return 'ct';
  if (/\bmri?\b|\bmr\b|magnetic resonance|\bt[12]\b|\bflair\b/.test(t)) return 'mri';
  if (/x-?ray|radiograph|\bcxr\b|chest film/.test(t)) return 'xray';
  return null;
}

export interface LungSide {
  side: Side;
  /** The zones named on that side, top to bottom; empty when the prompt names the lung only. */
  levels: Level[];
}

export interface LungFindings {
  /** Sides in the order the prompt names them. */
  sides: LungSide[];
  laterality: 'bilateral' | 'unilateral' | null;
  /** The number of infected areas the prompt states, or null. */
  count: number | null;
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
  all: ['upper', 'middle', 'lower'],
  whole: ['upper', 'middle', 'lower'],
  entire: ['upper', 'middle', 'lower'],
};
const SIDE_WORDS: Record<string, Side[]> = { left: ['left'], right: ['right'], both: ['left', 'right'] };
/** Nouns right after a side ("left lung"); after side + level also zone, field, lobe ("left lower zone"). */
const SIDE_NOUNS = new Set(['lung', 'lungs', 'hemithorax']);
const LUNG_NOUNS = new Set(['lung', 'lungs', 'zone', 'zones', 'field', 'fields', 'lobe', 'lobes']);
const INFECTION_WORDS = /infect|pneumon|covid|opacit|consolidat|ground[- ]glass|pulmonary/;

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+(?:-[a-z0-9]+)*/g) ?? [];
}

function sortLevels(levels: Iterable<Level>): Level[] {
  const set = new Set(levels);
  return LEVELS.filter((l) => set.has(l));
}

/**
 * Lung zones, laterality and count of a prompt, or null when it names no lung side and no
 * pulmonary finding. Reads "upper middle lower left lung", "upper and lower right lung",
 * "left lower zone", "lower zones of both lungs" and "both lower lungs".
 */
export function parseLungPrompt(text: string): LungFindings | null {
  const w = words(text);
  const bySide = new Map<Side, Set<Level>>();
  const note = (sides: Side[], levels: Level[]) => {
    for (const s of sides) {
      const set = bySide.get(s) ?? new Set<Level>();
      for (const l of levels) set.add(l);
      bySide.set(s, set);
    }
  };
  const isLevel = (i: number) => i >= 0 && i < w.length && LEVEL_WORDS[w[i]] !== undefined;
  for (let i = 0; i < w.length; i++) {
    const sides = SIDE_WORDS[w[i]];
    if (!sides) continue;
    // <levels> <side> lung ("upper middle lower left lung", "upper and lower right lung")
    if (i + 1 < w.length && SIDE_NOUNS.has(w[i + 1])) {
      const levels: Level[] = [];
      for (let j = i - 1; j >= 0; j--) {
        if (isLevel(j)) levels.push(...LEVEL_WORDS[w[j]]);
        else if (w[j] === 'and' && isLevel(j - 1)) continue;
        else break;
      }
      // "... zones of both lungs": levels before "zone(s) of".
      if (levels.length === 0 && i >= 2 && w[i - 1] === 'of' && LUNG_NOUNS.has(w[i - 2])) {
        for (let j = i - 3; j >= 0; j--) {
          if (isLevel(j)) levels.push(...LEVEL_WORDS[w[j]]);
          else if (w[j] === 'and' && isLevel(j - 1)) continue;
          else break;
        }
      }
      note(sides, levels);
      continue;
    }
    // <side> <levels> lung|zone|lobe ("left lower zone", "both lower lungs")
    const levels: Level[] = [];
    let j = i + 1;
    while (j < w.length && (isLevel(j) || (w[j] === 'and' && isLevel(j + 1)))) {
      if (isLevel(j)) levels.push(...LEVEL_WORDS[w[j]]);
      j++;
    }
    if (levels.length > 0 && j < w.length && LUNG_NOUNS.has(w[j])) note(sides, levels);
  }
  const lower = text.toLowerCase();
  if (bySide.size === 0 && !(INFECTION_WORDS.test(lower) && /lung|pulmon|chest|thora|pneumon|covid/.test(lower))) return null;

  // Sides in the prompt's order ("left ... and ... right").
  const order = SIDES.filter((s) => bySide.has(s)).sort((a, b) => lower.indexOf(a) - lower.indexOf(b));
  const sides = order.map((side) => ({ side, levels: sortLevels(bySide.get(side)!) }));
  // Two named sides make it bilateral; one named side alone does not say the other is clear.
  const laterality = /\bbilateral\b/.test(lower) ? 'bilateral' : /\bunilateral\b/.test(lower) ? 'unilateral' : sides.length === 2 ? 'bilateral' : null;
  const countMatch = lower.match(/\b(one|two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:infected\s+|affected\s+|involved\s+)?(?:areas?|zones?|regions?|lesions?|foci|patches)\b/);
  const count = countMatch ? (/^\d+$/.test(countMatch[1]) ? Number(countMatch[1]) : NUMBER_WORDS.indexOf(countMatch[1])) : null;
  return { sides, laterality, count };
}

/** A seeded chooser: pick(options) draws one, the same one for the same prompt every time. */
type Pick = <T>(options: readonly T[]) => T;

function chooser(seed: string): Pick {
  const rand = mulberry32(hash32(seed));
  return <T>(options: readonly T[]) => options[Math.floor(rand() * options.length)];
}

function cap(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** "a, b and c". */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function countWords(n: number): string {
  const word = n >= 0 && n < NUMBER_WORDS.length ? NUMBER_WORDS[n] : String(n);
  return `${word} area${n === 1 ? '' : 's'}`;
}

function other(side: Side): Side {
  return side === 'left' ? 'right' : 'left';
}

interface Phrase {
  text: string;
  /** Whether it takes a plural verb. */
  plural: boolean;
}

/** "the left lower zone", "the left upper and middle zones", "the whole left lung" (a clinician's shorthand). */
function zonePhrase(side: Side, levels: Level[], pick: Pick): Phrase {
  if (levels.length === 0) return { text: `the ${side} lung`, plural: false };
  if (levels.length === 3) return pick([{ text: `the whole ${side} lung`, plural: false }, { text: `all three ${side} zones`, plural: true }]);
  return { text: `the ${side} ${list(levels)} zone${levels.length === 1 ? '' : 's'}`, plural: levels.length > 1 };
}

function involvement(f: LungFindings, pick: Pick): Phrase {
  const [a, b] = f.sides;
  if (a && b && a.levels.join() === b.levels.join()) {
    const levels = a.levels;
    if (levels.length === 3) return pick([{ text: 'every zone of both lungs', plural: false }, { text: 'both lungs from apex to base', plural: true }]);
    if (levels.length === 0) return { text: 'both lungs', plural: true };
    return { text: `both ${list(levels)} zones`, plural: true };
  }
  const phrases = f.sides.map((s) => zonePhrase(s.side, s.levels, pick));
  return { text: list(phrases.map((p) => p.text)), plural: phrases.length > 1 || phrases.some((p) => p.plural) };
}

/** "a" or "an" before a word (by sound: "an MR slice", "an X-ray"). */
function article(word: string): string {
  return /^(?:[aeiou]|MRI?\b|MR\b|X-ray)/i.test(word) ? 'an' : 'a';
}

function lungNote(modality: Modality, f: LungFindings, pick: Pick): string {
  const sentences: string[] = [];
  const involved = involvement(f, pick);
  const where = involved.text;
  const allSix = f.sides.length === 2 && f.sides.every((s) => s.levels.length === 3);

  // 1. What is involved, and what is spared.
  const count = f.count !== null ? countWords(f.count) : null;
  const spared = f.sides.length === 1 && f.laterality === 'unilateral' ? other(f.sides[0].side) : null;
  const lat = f.laterality ?? '';
  if (f.sides.length === 0) {
    sentences.push(`${cap(lat ? `${lat} pulmonary` : 'pulmonary')} infection${count ? ` in ${count}` : ''}, without a named zone.`);
  } else if (allSix) {
    sentences.push(
      pick([
        `Diffuse bilateral infection of ${where}${count ? `, ${count}` : ''}.`,
        `Extensive bilateral pneumonia involving ${where}${count ? ` (${count})` : ''}.`,
      ]),
    );
  } else {
    const tail = spared ? pick([`; the ${spared} lung is clear`, `, sparing the ${spared} lung`, `, with a clear ${spared} lung`]) : '';
    sentences.push(
      pick([
        `${cap(lat ? `${lat} pulmonary` : 'pulmonary')} infection${count ? ` in ${count},` : ''} involving ${where}${tail}.`,
        `Infection involves ${where}${count ? ` (${count}${lat ? `, ${lat}` : ''})` : lat ? ` (${lat})` : ''}${tail}.`,
        `${cap(where)} ${involved.plural ? 'are' : 'is'} infected${lat ? `: ${lat} disease${count ? ` in ${count}` : ''}` : count ? ` in ${count}` : ''}${tail}.`,
      ]),
    );
  }

  // 2. Where that is on the image: which half shows each lung, and the zones' landmarks.
  const image = pick(IMAGE_NAME[modality]);
  const sides = f.sides;
  const placement =
    sides.length === 2
      ? pick(["the left lung is on the image's right", "the patient's left is the image's right"])
      : sides.length === 1
        ? pick([`the ${sides[0].side} lung is on the image's ${IMAGE_SIDE[sides[0].side]}`, `the ${sides[0].side} lung appears on the ${IMAGE_SIDE[sides[0].side]} of the image`])
        : '';
  const levels = sortLevels(sides.flatMap((s) => s.levels));
  const place = (l: Level) => (modality === 'xray' ? LUNG_ZONES[l].xray : LUNG_ZONES[l].ct);
  let anatomy = '';
  if (levels.length === 3) anatomy = ALL_ZONES[modality];
  else if (levels.length > 0) {
    // A level named on both sides is said in the plural: "the lower zones lie ...".
    const onBoth = (l: Level) => sides.length === 2 && sides.every((s) => s.levels.includes(l));
    const verb = pick(modality === 'xray' ? [['lies', 'lie'], ['sits', 'sit']] : [['is seen', 'are seen'], ['appears', 'appear']])[onBoth(levels[0]) ? 1 : 0];
    // "the upper zone lies above ... and the lower zone below ..." (the verb said once).
    const parts = levels.map((l, i) => `the ${l} zone${onBoth(l) ? 's' : ''}${i === 0 ? ` ${verb}` : ''} ${place(l)}`);
    anatomy = parts.length === 2 ? `${parts[0]}${parts[0].includes(',') ? ',' : ''} and ${parts[1]}` : parts[0];
  }
  // A single zone on one side: name its neighbours or the lobe it overlies.
  if (sides.length === 1 && sides[0].levels.length === 1) {
    const z = LUNG_ZONES[sides[0].levels[0]];
    const side = sides[0].side;
    anatomy += pick([`, beside ${z.landmarks[side]}`, `, mostly over ${z.lobes[side]}`]);
  }
  if (placement || anatomy) {
    const parts = [placement, anatomy].filter((s) => s !== '');
    sentences.push(
      pick([
        `On ${article(image)} ${image}, ${parts.join('; ')}.`,
        `${cap(parts.join('; '))}.`,
        placement && anatomy ? `${cap(anatomy)}; by radiological convention ${placement}.` : `By radiological convention ${parts.join('; ')}.`,
      ]),
    );
  }

  // 3. How infection looks there.
  const appearance = pick(INFECTION_APPEARANCE[modality]);
  const distribution = pick(INFECTION_DISTRIBUTION[modality]);
  sentences.push(
    pick([
      `Look for ${appearance}, ${distribution}.`,
      `It shows as ${appearance}, ${distribution}.`,
      `Expect ${appearance}, ${distribution}.`,
    ]),
  );
  return sentences.join(' ');
}

const LESION_ORGANS = ORGANS.filter((o) => o.lesion);
const PLAIN_ORGANS = ORGANS.filter((o) => !o.lesion);

function matches(text: string, alias: string): boolean {
  const escaped = alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/ /g, '\\s+');
  return new RegExp(`(^|[^a-z])${escaped}($|[^a-z])`).test(text);
}

/** The organ or lesion a prompt names (lesions first, so "liver tumour" is a tumour), or null. */
export function findOrgan(text: string): { organ: OrganFacts; host: string | null } | null {
  const t = text.toLowerCase();
  const lesion = LESION_ORGANS.find((o) => o.aliases.some((a) => matches(t, a)));
  if (lesion) {
    const hostWord = Object.keys(LESION_HOSTS).find((w) => matches(t, w));
    return { organ: lesion, host: hostWord ? LESION_HOSTS[hostWord] : null };
  }
  const organ = PLAIN_ORGANS.find((o) => o.aliases.some((a) => matches(t, a)));
  return organ ? { organ, host: null } : null;
}

function organPlacement(o: OrganFacts, pick: Pick): string {
  switch (o.side) {
    case 'left':
    case 'right':
      return pick([
        `on the ${IMAGE_SIDE[o.side]} half of the image, since it is on the patient's ${o.side}`,
        `on the image's ${IMAGE_SIDE[o.side]}, the patient's ${o.side} side`,
      ]);
    case 'midline':
      return pick(['close to the midline of the image', 'near the middle of the image']);
    case 'both':
      return '';
  }
}

function organNote(modality: Modality, found: { organ: OrganFacts; host: string | null }, pick: Pick): string {
  const { organ: o, host } = found;
  const image = pick(IMAGE_NAME[modality]);
  const where = host && o.inHost ? `within ${host}` : o.where;
  const sentences: string[] = [];
  sentences.push(
    pick([
      `${cap(o.name)} on ${article(image)} ${image}: it lies ${where}.`,
      `On this ${image}, ${o.name} lies ${where}.`,
      `${cap(o.name)} sits ${where}.`,
    ]),
  );
  const placement = organPlacement(o, pick);
  sentences.push(
    placement
      ? pick([`It is ${o.shape}, seen ${placement}.`, `Seen ${placement}, it is ${o.shape}.`])
      : pick([`It is ${o.shape}.`, `Expect ${o.shape}.`]),
  );
  const look = modality === 'mri' ? (o.mri ?? o.ct) : modality === 'ct' ? o.ct : null;
  if (look) {
    const m = MODALITY_NAME[modality];
    sentences.push(pick([`On ${m} it shows ${look}.`, `${m} shows ${look}.`, `On ${m}, look for ${look}.`]));
  } else {
    sentences.push('On a radiograph it is a soft-tissue shadow, outlined only where it meets air or fat.');
  }
  return sentences.join(' ');
}

function genericNote(prompt: string, modality: Modality | null, pick: Pick): string {
  const target = normalisePrompt(prompt);
  const image = modality ? pick(IMAGE_NAME[modality]) : 'medical image';
  const named = target === '' ? 'the structure the prompt names' : `"${target}"`;
  return [
    pick([`The target on this ${image} is ${named}.`, `This ${image} is to be segmented for ${named}.`]),
    pick([
      'Its outline follows where density and texture change from the surrounding tissue, and it may form one or several connected regions.',
      'It is set apart from the tissue around it by its own density, texture and margins, as one or several connected regions.',
    ]),
  ].join(' ');
}

/**
 * The modality a prompt is about: the one it names, else `fallback` (the dataset's), else
 * chest X-ray for lung findings and CT for organs; null when nothing tells.
 */
export function inferModality(prompt: string, fallback?: Modality): Modality | null {
  const named = detectModality(prompt);
  if (named) return named;
  if (fallback) return fallback;
  if (parseLungPrompt(prompt)) return 'xray';
  return findOrgan(prompt) ? 'ct' : null;
}

export interface ExpandOptions {
  /** The modality when the prompt does not name one (e.g. from `--modality` or the dataset). */
  modality?: Modality;
}

/**
 * The offline auxiliary description of a prompt. Never throws: a prompt the glossary does not
 * cover gets a short generic note (kind 'generic').
 */
export function expandPrompt(prompt: string, options: ExpandOptions = {}): Expansion {
  const lung = parseLungPrompt(prompt);
  const organ = lung ? null : findOrgan(prompt);
  const modality = detectModality(prompt) ?? options.modality ?? (lung ? 'xray' : organ ? 'ct' : null);
  const pick = chooser(`${normalisePrompt(prompt)}|${modality ?? ''}`);
  if (lung) return { text: lungNote(modality!, lung, pick), kind: 'lung', modality };
  if (organ) return { text: organNote(modality!, organ, pick), kind: 'organ', modality };
  return { text: genericNote(prompt, modality, pick), kind: 'generic', modality };
}
