// SGSeg's layout (its QaTa-COV19 copy):
//   <root>/images/<split>/images/<name>.png, <root>/images/<split>/masks/mask_<name>.png
//   <root>/prompts/annotation.json: {"train": [{"image_path": "mask_<name>.png", "caption": ...}], "valid": [...], "test": [...]}
// `valid` is our 'val' (a `val` key or folder is accepted too). The annotation entries are the
// index; an image in a split's images/ folder that no entry names is reported (no text).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Split } from '../types.js';
import { Collector, type FormatReader, type ReadOptions, cleanText, findChild, imageStemForMask, imagesByStem, isDir, isFile, notThisFormat, stemOf, wantedSplits } from './common.js';

const KEYS: Record<Split, string[]> = { train: ['train'], val: ['valid', 'val', 'validation'], test: ['test'] };

const EXPECTS =
  'prompts/annotation.json ({"train": [{"image_path": "mask_x.png", "caption": "..."}], "valid": [...], "test": [...]}) and images/<train|valid|test>/{images,masks}/';

function annotationPath(root: string): string {
  return join(root, 'prompts', 'annotation.json');
}

export const sgseg: FormatReader = {
  name: 'sgseg',
  expects: EXPECTS,

  detect(root: string): boolean {
    return isFile(annotationPath(root)) && isDir(join(root, 'images'));
  },

  async read(root: string, options: ReadOptions = {}) {
    if (!sgseg.detect(root)) throw notThisFormat('sgseg', root, EXPECTS);
    const { splits } = wantedSplits(options);
    const out = new Collector();
    const file = annotationPath(root);
    let annotation: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level is not an object of splits');
      annotation = parsed as Record<string, unknown>;
    } catch (err) {
      out.problem(file, `cannot read the annotation file: ${(err as Error).message}`);
      return out.dataset('sgseg', root);
    }
    const imagesRoot = join(root, 'images');
    for (const split of splits) {
      const key = KEYS[split].find((k) => k in annotation) ?? null;
      const folder = findChild(imagesRoot, KEYS[split]);
      if (key === null && folder === null) continue; // the dataset has no such split
      if (folder === null) {
        out.problem(join(imagesRoot, KEYS[split][0]), `annotation.json has a "${key}" list, but there is no images/${KEYS[split][0]}/ folder`);
        continue;
      }
      const imgDir = findChild(folder, ['images']) ?? join(folder, 'images');
      const maskDir = findChild(folder, ['masks']) ?? join(folder, 'masks');
      if (!isDir(imgDir)) {
        out.problem(imgDir, `no images/ folder in ${folder}`);
        continue;
      }
      if (!isDir(maskDir)) {
        out.problem(maskDir, `no masks/ folder in ${folder}`);
        continue;
      }
      if (key === null) {
        out.problem(file, `images/${KEYS[split][0]}/ exists, but annotation.json has no "${KEYS[split][0]}" list (no captions for the split)`);
        continue;
      }
      const entries = annotation[key];
      if (!Array.isArray(entries)) {
        out.problem(`${file} "${key}"`, 'not a list of entries');
        continue;
      }
      const images = imagesByStem(imgDir);
      const masks = imagesByStem(maskDir);
      const named = new Set<string>();
      entries.forEach((entry: unknown, i: number) => {
        const where = `${file} "${key}"[${i}]`;
        if (entry === null || typeof entry !== 'object') {
          out.problem(where, 'not an object with image_path and caption');
          return;
        }
        const e = entry as Record<string, unknown>;
        const maskName = typeof e.image_path === 'string' ? e.image_path.trim() : '';
        if (maskName === '') {
          out.problem(where, 'no image_path');
          return;
        }
        const id = imageStemForMask(maskName);
        named.add(id);
        const imageName = images.byStem.get(id);
        const foundMask = masks.byStem.get(stemOf(maskName));
        const text = cleanText(e.caption);
        let bad = false;
        if (!imageName) {
          out.problem(id, `no image for ${maskName}: expected ${join(imgDir, `${id}.png`)}`);
          bad = true;
        }
        if (!foundMask) {
          out.problem(id, `mask file missing: ${join(maskDir, maskName)}`);
          bad = true;
        }
        if (text === '') {
          out.problem(id, `no caption (${where})`);
          bad = true;
        }
        if (bad) return;
        const imagePath = join(imgDir, imageName!);
        out.add({ id, split, image: { kind: 'file', path: imagePath }, mask: { kind: 'file', path: join(maskDir, foundMask!) }, text, aux: null }, imagePath);
      });
      for (const [stem, name] of images.byStem) {
        if (!named.has(stem)) out.problem(stem, `no text: annotation.json "${key}" has no entry for ${join(imgDir, name)}`);
      }
    }
    return out.dataset('sgseg', root);
  },
};
