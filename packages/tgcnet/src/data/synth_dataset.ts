// `tgcnet data synth`: writes synthetic cases in the LViT layout
// ({Train,Val,Test}_Folder/{img,labelcol} + <Split>_text.xlsx with Image, Description),
// 70/10/20 train/val/test, deterministic for a seed.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import sharp from 'sharp';
import { synthCase } from './synth.js';

export interface SynthOptions {
  out: string;
  n: number;
  seed: number;
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

const FOLDERS = [
  ['Train', 0.7],
  ['Val', 0.1],
  ['Test', 0.2],
] as const;

export async function writeSynthDataset(options: SynthOptions): Promise<{ counts: Record<string, number> }> {
  const size = options.size ?? 224;
  if (options.n < 3) throw new RangeError(`data synth: --n must be at least 3 (one case per split), got ${options.n}`);
  // Written into a temporary folder and renamed: an interrupted run leaves no half dataset.
  const tmp = `${options.out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const counts: Record<string, number> = {};
  let start = 0;
  let done = 0;
  for (const [i, [name, fraction]] of FOLDERS.entries()) {
    const count = i === FOLDERS.length - 1 ? options.n - start : Math.max(1, Math.round(options.n * fraction));
    const folder = join(tmp, `${name}_Folder`);
    mkdirSync(join(folder, 'img'), { recursive: true });
    mkdirSync(join(folder, 'labelcol'), { recursive: true });
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Sheet1');
    sheet.addRow(['Image', 'Description']);
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < count; k++) {
      const index = start + k;
      const c = synthCase(options.seed * 100_003 + index, size);
      const stem = `synth_${String(index).padStart(5, '0')}`;
      const raw = { raw: { width: size, height: size, channels: 1 as const } };
      writes.push(sharp(Buffer.from(c.image), raw).png().toFile(join(folder, 'img', `${stem}.png`)));
      writes.push(sharp(Buffer.from(c.mask), raw).png().toFile(join(folder, 'labelcol', `mask_${stem}.png`)));
      sheet.addRow([`mask_${stem}.png`, c.text]);
      if (writes.length >= 64) await Promise.all(writes.splice(0));
      done += 1;
      options.onProgress?.(done, options.n);
    }
    await Promise.all(writes);
    await workbook.xlsx.writeFile(join(folder, `${name}_text.xlsx`));
    counts[name.toLowerCase()] = count;
    start += count;
  }
  rmSync(options.out, { recursive: true, force: true });
  renameSync(tmp, options.out);
  return { counts };
}
