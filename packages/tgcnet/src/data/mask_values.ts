// What `data check --deep` says about a mask's values. Masks are binarised by MASK_RULE
// (images.ts) without a word; a 0/100 mask would train as empty and a 0/1 mask with one stray
// 255 as a single pixel. A value set other than 0/255 or 0/1 is reported with what the rule
// made of it, so the user sees the mask the model will see. JPEG masks are lossy by nature
// (the rule is made for their noise) and are not reported.
import { extname } from 'node:path';

const isSubset = (values: readonly number[], allowed: readonly number[]) => values.every((v) => allowed.includes(v));

export function maskValueProblem(path: string, values: readonly number[], foreground: number, pixels: number): string | null {
  if (isSubset(values, [0, 255]) || isSubset(values, [0, 1])) return null;
  if (['.jpg', '.jpeg'].includes(extname(path).toLowerCase())) return null;
  const shown = values.length > 8 ? `${values.slice(0, 4).join(', ')}, ... ${values[values.length - 1]} (${values.length} values)` : values.join(', ');
  const rule = values[values.length - 1] <= 1 ? '> 0' : '> 127';
  const outcome = foreground === 0 ? 'an empty mask' : `${foreground} foreground pixel(s) of ${pixels}`;
  return `mask values {${shown}} are not 0/255 or 0/1: read as foreground where ${rule}, that is ${outcome}; rewrite the mask as 0/255 if that is not what it means`;
}

/** Cases whose 2-D mask files are binarised at `threshold` (foreground > threshold) instead of by MASK_RULE. */
export function withMaskThreshold<C extends { mask: { kind: string } | null }>(cases: C[], threshold: number | undefined): C[] {
  if (threshold === undefined) return cases;
  return cases.map((c) => (c.mask?.kind === 'file' ? { ...c, mask: { ...c.mask, threshold } } : c));
}
