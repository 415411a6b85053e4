// LanGuideMedSeg's layout (Zhong et al., MICCAI 2023):
//   <root>/prompt/train.csv, <root>/prompt/test.csv: columns Image (the mask's file name), Description
//   images in Images/<Image without "mask_">, masks in GTs/<Image>, either at the top
//   (<root>/Images, <root>/GTs) or per split as the original code has them (<root>/Train/{Images,GTs}
//   for train.csv, <root>/Test/{Images,GTs} for test.csv).
// Validation is the last 20% of train.csv in file order, cut where the original code cuts it
// (rows [0, floor(0.8 n)) train, the rest val).
import { join } from 'node:path';
import type { Split } from '../types.js';
import { Collector, type FormatReader, type ReadOptions, type TableRow, cleanText, findChild, imageStemForMask, imagesByStem, isDir, notThisFormat, readCsv, stemOf, wantedSplits } from './common.js';

const EXPECTS =
  'prompt/train.csv and/or prompt/test.csv (columns Image, Description), with Images/ and GTs/ at the top or under Train/ and Test/';

const CSV: Record<Split, string> = { train: 'train.csv', val: 'train.csv', test: 'test.csv' };
const SPLIT_DIRS: Record<'train' | 'test', string[]> = {
  train: ['Train', 'train', 'Train_Folder', 'Train Folder'],
  test: ['Test', 'test', 'Test_Folder', 'Test Folder'],
};

/** The folder holding Images/ and GTs/ for a csv: the split's own folder, else the root. */
function dataFolder(root: string, which: 'train' | 'test'): string | null {
  const own = findChild(root, SPLIT_DIRS[which]);
  if (own && findChild(own, ['Images'])) return own;
  if (findChild(root, ['Images'])) return root;
  return null;
}

export const languidemedseg: FormatReader = {
  name: 'languidemedseg',
  expects: EXPECTS,

  detect(root: string): boolean {
    const prompt = findChild(root, ['prompt']);
    if (!prompt) return false;
    const hasCsv = findChild(prompt, ['train.csv'], 'file') !== null || findChild(prompt, ['test.csv'], 'file') !== null;
    return hasCsv && (dataFolder(root, 'train') !== null || dataFolder(root, 'test') !== null);
  },

  async read(root: string, options: ReadOptions = {}) {
    if (!languidemedseg.detect(root)) throw notThisFormat('languidemedseg', root, EXPECTS);
    const { splits } = wantedSplits(options);
    const out = new Collector();
    const promptDir = findChild(root, ['prompt'])!;
    const tables = new Map<string, { path: string; rows: TableRow[] } | null>();
    const table = (name: string): { path: string; rows: TableRow[] } | null => {
      if (tables.has(name)) return tables.get(name)!;
      const path = findChild(promptDir, [name], 'file');
      let result: { path: string; rows: TableRow[] } | null = null;
      if (path) {
        try {
          const { columns, rows } = readCsv(path);
          if (!columns.includes('image') || !columns.includes('description')) {
            out.problem(path, `no "Image" and "Description" columns (found: ${columns.join(', ') || 'none'})`);
          } else result = { path, rows };
        } catch (err) {
          out.problem(path, `cannot read the csv: ${(err as Error).message}`);
        }
      }
      tables.set(name, result);
      return result;
    };
    for (const split of splits) {
      const csvName = CSV[split];
      const csvPath = findChild(promptDir, [csvName], 'file');
      if (!csvPath) continue;
      const t = table(csvName);
      if (!t) continue;
      const which = split === 'test' ? 'test' : 'train';
      const folder = dataFolder(root, which);
      if (!folder) {
        out.problem(root, `no Images/ folder for prompt/${csvName} (looked in ${SPLIT_DIRS[which][0]}/ and at the top)`);
        continue;
      }
      const imgDir = findChild(folder, ['Images'])!;
      const maskDir = findChild(folder, ['GTs']) ?? join(folder, 'GTs');
      if (!isDir(maskDir)) {
        out.problem(maskDir, `no GTs/ folder (the masks) beside ${imgDir}`);
        continue;
      }
      const cut = Math.floor(0.8 * t.rows.length);
      const rows = split === 'train' ? t.rows.slice(0, cut) : split === 'val' ? t.rows.slice(cut) : t.rows;
      const images = imagesByStem(imgDir);
      const masks = imagesByStem(maskDir);
      for (const row of rows) {
        const where = `${t.path} line ${row.line}`;
        const maskName = (row.cells.get('image') ?? '').trim();
        if (maskName === '') {
          out.problem(where, 'empty Image cell');
          continue;
        }
        const id = imageStemForMask(maskName);
        const imageName = images.byStem.get(id);
        const foundMask = masks.byStem.get(stemOf(maskName));
        const text = cleanText(row.cells.get('description'));
        let bad = false;
        if (!imageName) {
          out.problem(id, `image file missing: ${join(imgDir, maskName.replace('mask_', ''))} (${where})`);
          bad = true;
        }
        if (!foundMask) {
          out.problem(id, `mask file missing: ${join(maskDir, maskName)} (${where})`);
          bad = true;
        }
        if (text === '') {
          out.problem(id, `empty Description (${where})`);
          bad = true;
        }
        if (bad) continue;
        const imagePath = join(imgDir, imageName!);
        out.add({ id, split, image: { kind: 'file', path: imagePath }, mask: { kind: 'file', path: join(maskDir, foundMask!) }, text, aux: null }, where);
      }
    }
    return out.dataset('languidemedseg', root);
  },
};
