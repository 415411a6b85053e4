// LViT's layout (QaTa-COV19, MosMedData+):
//   <root>/Train_Folder/{img,labelcol}/ + Train_Folder/Train_text.xlsx
//   <root>/Val_Folder/{img,labelcol}/   + Val_Folder/Val_text.xlsx
//   <root>/Test_Folder/{img,labelcol}/  + Test_Folder/Test_text.xlsx
// The xlsx has columns `Image` (the mask's file name) and `Description`. QaTa names masks
// mask_<image>.png; MosMedData+ gives image and mask the same stem. Every image in img/ is a
// case (id = its stem); its mask and its row are looked up under both namings.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Split } from '../types.js';
import { Collector, type FormatReader, type ReadOptions, cleanText, findChild, imagesByStem, isDir, notThisFormat, stemOf, wantedSplits } from './common.js';

const FOLDERS: Record<Split, string[]> = {
  train: ['Train_Folder'],
  val: ['Val_Folder', 'Valid_Folder', 'Validation_Folder'],
  test: ['Test_Folder'],
};
const PREFIX: Record<Split, string> = { train: 'Train', val: 'Val', test: 'Test' };

const EXPECTS =
  'Train_Folder/, Val_Folder/ and/or Test_Folder/, each with img/ (images), labelcol/ (masks) and <Split>_text.xlsx (columns Image, Description)';

function splitFolder(root: string, split: Split): string | null {
  const dir = findChild(root, FOLDERS[split]);
  return dir && findChild(dir, ['img']) ? dir : null;
}

/** The text file of a split: <Split>_text.xlsx in the split's folder (or the root), else the folder's only .xlsx. */
function findXlsx(root: string, folder: string, split: Split): string | null {
  const wanted = [`${PREFIX[split]}_text.xlsx`, ...FOLDERS[split].slice(1).map((f) => `${f.replace('_Folder', '')}_text.xlsx`)];
  const inFolder = findChild(folder, wanted, 'file') ?? findChild(root, wanted, 'file');
  if (inFolder) return inFolder;
  let names: string[] = [];
  try {
    names = readdirSync(folder).filter((n) => n.toLowerCase().endsWith('.xlsx') && !n.startsWith('~$') && !n.startsWith('.'));
  } catch {
    // no folder listing: no text file
  }
  return names.length === 1 ? join(folder, names[0]) : null;
}

export interface TextRow {
  row: number;
  image: string;
  text: string;
}

/** Rows of the first worksheet of an xlsx, by the header cells `Image` and `Description` (any case). */
export async function readTextXlsx(path: string): Promise<TextRow[]> {
  const { default: ExcelJS } = await import('exceljs'); // loaded only when an xlsx is read
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(path);
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new Error('the workbook has no worksheet');
  let headerRow = 0;
  let imageCol = 0;
  let textCol = 0;
  const seen: string[] = [];
  for (let r = 1; r <= Math.min(5, sheet.rowCount) && headerRow === 0; r++) {
    const row = sheet.getRow(r);
    row.eachCell((cell, col) => {
      const name = cleanText(cell.text).toLowerCase();
      if (r === 1) seen.push(cleanText(cell.text));
      if (name === 'image' && imageCol === 0) imageCol = col;
      if (name === 'description' && textCol === 0) textCol = col;
    });
    if (imageCol && textCol) headerRow = r;
    else {
      imageCol = 0;
      textCol = 0;
    }
  }
  if (headerRow === 0) throw new Error(`no header with columns "Image" and "Description" (first row: ${seen.map((s) => JSON.stringify(s)).join(', ') || 'empty'})`);
  const rows: TextRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, n) => {
    if (n <= headerRow) return;
    const image = cleanText(row.getCell(imageCol).text);
    const text = cleanText(row.getCell(textCol).text);
    if (image === '' && text === '') return;
    rows.push({ row: n, image, text });
  });
  return rows;
}

export const lvit: FormatReader = {
  name: 'lvit',
  expects: EXPECTS,

  detect(root: string): boolean {
    if (!isDir(root)) return false;
    return (['train', 'val', 'test'] as Split[]).some((s) => splitFolder(root, s) !== null);
  },

  async read(root: string, options: ReadOptions = {}) {
    if (!lvit.detect(root)) throw notThisFormat('lvit', root, EXPECTS);
    const { splits } = wantedSplits(options);
    const out = new Collector();
    for (const split of splits) {
      const folder = splitFolder(root, split);
      if (!folder) continue;
      const imgDir = findChild(folder, ['img'])!;
      const maskDir = findChild(folder, ['labelcol']);
      if (!maskDir) {
        out.problem(folder, `no labelcol/ folder (the masks) beside img/`);
        continue;
      }
      const xlsx = findXlsx(root, folder, split);
      if (!xlsx) {
        out.problem(folder, `no text file: expected ${PREFIX[split]}_text.xlsx (columns Image, Description) in ${folder}`);
        continue;
      }
      let rows: TextRow[];
      try {
        rows = await readTextXlsx(xlsx);
      } catch (err) {
        out.problem(xlsx, `cannot read the text file: ${(err as Error).message}`);
        continue;
      }
      const texts = new Map<string, TextRow>();
      for (const row of rows) {
        const key = stemOf(row.image);
        const first = texts.get(key);
        if (first) out.problem(`${xlsx} row ${row.row}`, `second row for ${row.image} (the first, row ${first.row}, is used)`);
        else texts.set(key, row);
      }
      const images = imagesByStem(imgDir);
      const masks = imagesByStem(maskDir);
      for (const names of images.clashes) out.problem(join(imgDir, names[0]), `several images share the stem: ${names.join(', ')} (the first is used)`);
      for (const names of masks.clashes) out.problem(join(maskDir, names[0]), `several masks share the stem: ${names.join(', ')} (the first is used)`);
      const used = new Set<string>();
      for (const [stem, name] of [...images.byStem].sort((a, b) => (a[1] < b[1] ? -1 : 1))) {
        const imagePath = join(imgDir, name);
        const maskName = masks.byStem.get(`mask_${stem}`) ?? masks.byStem.get(stem);
        const textKey = texts.has(`mask_${stem}`) ? `mask_${stem}` : texts.has(stem) ? stem : null;
        const row = textKey === null ? undefined : texts.get(textKey);
        if (textKey !== null) used.add(textKey);
        let bad = false;
        if (!maskName) {
          out.problem(stem, `no mask for ${imagePath}: expected ${join(maskDir, `mask_${stem}.png`)} or ${join(maskDir, `${stem}.png`)}`);
          bad = true;
        }
        if (!row) {
          out.problem(stem, `no text: ${basename(xlsx)} has no row whose Image is ${maskName ?? `mask_${stem}.png`}`);
          bad = true;
        } else if (row.text === '') {
          out.problem(stem, `empty Description in ${basename(xlsx)} row ${row.row}`);
          bad = true;
        }
        if (bad) continue;
        out.add(
          { id: stem, split, image: { kind: 'file', path: imagePath }, mask: { kind: 'file', path: join(maskDir, maskName!) }, text: row!.text, aux: null },
          imagePath,
        );
      }
      for (const [key, row] of texts) {
        if (used.has(key)) continue;
        out.problem(`${xlsx} row ${row.row}`, `${row.image}: no image for it in ${imgDir}`);
      }
    }
    return out.dataset('lvit', root);
  },
};
