// The offline auxiliary prompt, for users without an LLM. A lung prompt in any wording ("all
// left lung", "right upper zone", "left base", typos and run-together words) gets its zones
// restated in one canonical wording (zones.ts): DATE then sees the meaning even when the
// clinician's words differ from the training captions. (The radiological notes this used to
// write measured no effect on QaTa, see README.) An organ or lesion as in MSD's "spleen in an
// abdominal CT slice." gets two or three sentences from the glossary: where it lies, which
// side of the image, how it looks on the modality.
// One phrasing per fact: the sentence variants this used to draw measured no effect.
import { IMAGE_NAME, IMAGE_SIDE, LESION_HOSTS, MODALITY_NAME, type Modality, ORGANS, type OrganFacts } from './glossary.js';
import { normalisePrompt } from './store.js';
import { readLungZones, restateZones } from './zones.js';

/** Written into the file's "model" field for offline entries; bump when the wording changes. */
export const EXPANDER_VERSION = 'tgcnet-zones-2';

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

function cap(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** "a" or "an" before a word (by sound: "an MR slice", "an X-ray"). */
function article(word: string): string {
  return /^(?:[aeiou]|MRI?\b|MR\b|X-ray)/i.test(word) ? 'an' : 'a';
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

function organPlacement(o: OrganFacts): string {
  switch (o.side) {
    case 'left':
    case 'right':
      return `on the ${IMAGE_SIDE[o.side]} half of the image, since it is on the patient's ${o.side}`;
    case 'midline':
      return 'close to the midline of the image';
    case 'both':
      return '';
  }
}

function organNote(modality: Modality, found: { organ: OrganFacts; host: string | null }): string {
  const { organ: o, host } = found;
  const image = IMAGE_NAME[modality];
  const where = host && o.inHost ? `within ${host}` : o.where;
  const placement = organPlacement(o);
  const look = modality === 'mri' ? (o.mri ?? o.ct) : modality === 'ct' ? o.ct : null;
  return [
    `${cap(o.name)} on ${article(image)} ${image}: it lies ${where}.`,
    placement ? `It is ${o.shape}, seen ${placement}.` : `It is ${o.shape}.`,
    look ? `On ${MODALITY_NAME[modality]} it shows ${look}.` : 'On a radiograph it is a soft-tissue shadow, outlined only where it meets air or fat.',
  ].join(' ');
}

function genericNote(prompt: string, modality: Modality | null): string {
  const target = normalisePrompt(prompt);
  const image = modality ? IMAGE_NAME[modality] : 'medical image';
  const named = target === '' ? 'the structure the prompt names' : `"${target}"`;
  return `The target on this ${image} is ${named}. Its outline follows where density and texture change from the surrounding tissue, and it may form one or several connected regions.`;
}

/**
 * The modality a prompt is about: the one it names, else `fallback` (the dataset's), else
 * chest X-ray for lung findings and CT for organs; null when nothing tells.
 */
export function inferModality(prompt: string, fallback?: Modality): Modality | null {
  const named = detectModality(prompt);
  if (named) return named;
  if (fallback) return fallback;
  if (readLungZones(prompt)) return 'xray';
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
  const lung = readLungZones(prompt);
  const organ = lung ? null : findOrgan(prompt);
  const modality = detectModality(prompt) ?? options.modality ?? (lung ? 'xray' : organ ? 'ct' : null);
  if (lung) return { text: restateZones(lung), kind: 'lung', modality };
  if (organ) return { text: organNote(modality!, organ), kind: 'organ', modality };
  return { text: genericNote(prompt, modality), kind: 'generic', modality };
}
