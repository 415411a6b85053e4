// `tgcnet predict`: one image (or a folder of images) and a prompt -> mask PNG(s) at the
// input's own size, an optional overlay, JSON with area and mean probability.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { loadImage } from '../data/images.js';
import { maskPng, overlayPng } from '../infer/images_io.js';
import { segment } from '../infer/segment.js';
import { auxForPrompt } from '../prompts/store.js';
import { loadRun } from '../train/checkpoint.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp']);

export interface PredictOptions {
  checkpoint: string;
  image: string;
  text: string;
  aux?: string;
  out: string;
  overlay?: string;
  json?: boolean;
}

export async function predictCommand(opts: PredictOptions): Promise<void> {
  const run = loadRun(opts.checkpoint);
  try {
    const isFolder = statSync(opts.image, { throwIfNoEntry: false })?.isDirectory() ?? false;
    const inputs = isFolder
      ? readdirSync(opts.image)
          .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
          .sort()
          .map((f) => join(opts.image, f))
      : [opts.image];
    if (inputs.length === 0) throw new Error(`${opts.image}: no images (${[...IMAGE_EXTENSIONS].join(' ')})`);
    if (isFolder) mkdirSync(opts.out, { recursive: true });
    let aux = opts.aux ?? null;
    const usesAux = run.run.model.text === 'llm-expanded' || (run.run.model.text === 'aux-injection' && run.run.model.modules.date);
    if (aux === null && usesAux) {
      try {
        aux = auxForPrompt(opts.text, { dataRoot: run.run.data.root, explicit: run.run.train.auxPrompts as string | undefined });
      } catch {
        aux = null;
      }
    }
    const rows: string[] = ['image,mask,width,height,area,mean_probability'];
    const results = [];
    for (const input of inputs) {
      const image = await loadImage({ kind: 'file', path: input });
      const seg = await segment(run, image, opts.text, aux);
      const maskPath = isFolder ? join(opts.out, `${basename(input, extname(input))}_mask.png`) : opts.out;
      writeFileSync(maskPath, await maskPng(seg.mask, seg.width, seg.height));
      if (opts.overlay && !isFolder) writeFileSync(opts.overlay, await overlayPng(image, seg.mask));
      rows.push([input, maskPath, seg.width, seg.height, seg.area, seg.meanProbability.toFixed(6)].join(','));
      results.push({ image: input, mask: maskPath, width: seg.width, height: seg.height, area: seg.area, mean_probability: seg.meanProbability });
    }
    if (isFolder) writeFileSync(join(opts.out, 'predictions.csv'), `${rows.join('\n')}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify(isFolder ? results : results[0])}\n`);
    else for (const r of results) process.stdout.write(`${r.image}: ${r.area} px foreground (${r.width}x${r.height}) -> ${r.mask}\n`);
  } finally {
    run.model.dispose();
  }
}
