// The offline auxiliary prompt, for users without an LLM. A lung prompt in any wording ("all
// left lung", "right upper zone", "left base", typos and run-together words) gets its zones
// restated in one canonical wording (zones.ts): DATE then sees the meaning even when the
// clinician's words differ from the training captions. (The radiological notes this used to
// write measured no effect on QaTa, see README.) An organ or lesion as in MSD's "spleen in an
// abdominal CT slice." gets two or three sentences from the glossary: where it lies, which
// side of the image, how it looks on the modality.
//
// Deterministic: the sentence forms are drawn from a generator seeded by a hash of the
// normalised prompt and the modality, so a prompt always gets the same text.
import { hash32, mulberry32 } from '../random.js';
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

/** A seeded chooser: pick(options) draws one, the same one for the same prompt every time. */
type Pick = <T>(options: readonly T[]) => T;

function chooser(seed: string): Pick {
  const rand = mulberry32(hash32(seed));
  return <T>(options: readonly T[]) => options[Math.floor(rand() * options.length)];
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
  const pick = chooser(`${normalisePrompt(prompt)}|${modality ?? ''}`);
  if (lung) return { text: restateZones(lung), kind: 'lung', modality };
  if (organ) return { text: organNote(modality!, organ, pick), kind: 'organ', modality };
  return { text: genericNote(prompt, modality, pick), kind: 'generic', modality };
}
