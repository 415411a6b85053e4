// The knowledge the offline expander writes from: the organs (and a few lesion types) that
// MSD-style prompts name (a data file, ../../data/organs.json), and the lung's sides and levels
// (zones.ts reads and restates lung prompts). Facts only; expander.ts turns them into sentences.
//
// Sides follow the radiological convention: the patient's left is on the image's right, on a
// frontal radiograph and on an axial CT/MR slice alike. Every left/right fact is written with
// the words "left" and "right", so a horizontal flip (data/text_flip.ts swaps those words in
// the auxiliary text too) leaves the text true of the flipped image.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export type Modality = 'xray' | 'ct' | 'mri';
export const MODALITIES: readonly Modality[] = ['xray', 'ct', 'mri'];

export type Level = 'upper' | 'middle' | 'lower';
export type Side = 'left' | 'right';
export const LEVELS: readonly Level[] = ['upper', 'middle', 'lower'];
export const SIDES: readonly Side[] = ['left', 'right'];

/** Number words of LViT's prompts ("two infected areas"), and a few more. */
export const NUMBER_WORDS: readonly string[] = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** How a modality is named inside a sentence (and for a template's {modality}). */
export const MODALITY_NAME: Record<Modality, string> = {
  xray: 'chest X-ray',
  ct: 'CT',
  mri: 'MRI',
};

/** The image a modality yields, as a sentence would call it. */
export const IMAGE_NAME: Record<Modality, string> = {
  xray: 'frontal chest radiograph',
  ct: 'axial CT slice',
  mri: 'axial MR slice',
};

/** Which half of the image shows a side of the patient. */
export const IMAGE_SIDE: Record<Side, Side> = { left: 'right', right: 'left' };

export const OrganFacts = z.object({
  /** The name a sentence uses ("the spleen"). */
  name: z.string(),
  /** Words that name it in a prompt (lower case, matched as whole words). */
  aliases: z.array(z.string()).min(1),
  /** Which side of the patient it lies on. */
  side: z.enum(['left', 'right', 'midline', 'both']),
  /** The scene it belongs to (for when the prompt names none). */
  region: z.enum(['abdominal', 'chest', 'cardiac', 'brain', 'pelvic']),
  /** A lesion rather than an organ: found before organs, so "liver tumour" is a tumour. */
  lesion: z.boolean().optional(),
  /** A lesion located by the organ the prompt names with it ("liver tumour": within the liver). */
  inHost: z.boolean().optional(),
  /** Where it lies on an axial slice and what borders it (follows "it lies"). */
  where: z.string(),
  /** Its shape. */
  shape: z.string(),
  /** How it looks on CT; on MRI (when it differs in a useful way). */
  ct: z.string(),
  mri: z.string().optional(),
});
export type OrganFacts = z.infer<typeof OrganFacts>;

const OrganFile = z.object({
  organs: z.array(OrganFacts),
  /** Organs whose lesions a prompt may locate ("liver tumour"): the word beside a lesion word -> the organ. */
  lesionHosts: z.record(z.string(), z.string()),
});

/**
 * Organs and targets of the Medical Segmentation Decathlon, BTCV/AMOS-style abdominal label
 * sets and common lesion words, kept as data (packages/tgcnet/data/organs.json) so they can be
 * extended without touching code. A longer alias comes before one it contains ("left kidney"
 * before "kidney"); the expander tries entries in that order.
 */
const ORGAN_FILE = fileURLToPath(new URL('../../data/organs.json', import.meta.url));
const organData = (() => {
  const r = OrganFile.safeParse(JSON.parse(readFileSync(ORGAN_FILE, 'utf8')));
  if (!r.success) throw new Error(`${ORGAN_FILE}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
})();

export const ORGANS: readonly OrganFacts[] = organData.organs;
export const LESION_HOSTS: Readonly<Record<string, string>> = organData.lesionHosts;
