// The text side of a case's transforms, drawn with its image side: a horizontal flip swaps
// "left" and "right" in the prompt and its aux (the image's sides moved), and prompt
// augmentation rewords the zones and adds typing slips (prompt_augment.ts). Seeded per case
// and step, so a resumed run replays them.
import { mulberry32 } from '../random.js';
import { addSlips, rewordZones } from './prompt_augment.js';
import { swapLeftRight } from './text_flip.js';

export interface CaseText {
  prompt: string;
  aux: string | null;
}

export interface TextTransform {
  /** The image was flipped horizontally. */
  flip: boolean;
  /** Probability of rewording and slips (0 or undefined: none). */
  promptAugment?: number;
  /** Seed of this case's draws. */
  seed: number;
}

export function transformText(text: CaseText, t: TextTransform): CaseText {
  const rand = t.promptAugment ? mulberry32(t.seed >>> 0) : null;
  const vary = rand !== null && rand() < t.promptAugment!;
  let prompt = vary && rand() < 0.5 ? rewordZones(text.prompt, rand) : text.prompt;
  if (t.flip) prompt = swapLeftRight(prompt);
  // Slips come after the flip's swap: "leftlung" would no longer read as a side to swap.
  if (vary) prompt = addSlips(prompt, rand);
  const aux = text.aux === null ? null : t.flip ? swapLeftRight(text.aux) : text.aux;
  return { prompt, aux };
}
