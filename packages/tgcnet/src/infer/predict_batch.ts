// Many predictions into one folder: one mask per case (<id>_mask.png or <id>_mask.nii.gz)
// and predictions.csv. A case that fails is reported (onError) and recorded in the CSV's
// error column; the others go on. Bad manifest rows arrive as problems and are recorded
// the same way, so the CSV accounts for every row.
import { join } from 'node:path';
import type { Problem } from '../data/types.js';
import type { LoadedRun } from '../run/checkpoint.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { type PredictCaseOptions, type PredictResult, maskKind, predictCase } from './predict_case.js';
import type { PredictCase } from './predict_inputs.js';
import { makeDir } from '../fs/make_dir.js';

export interface BatchFailure {
  image: string;
  error: string;
}

export interface BatchResult {
  results: PredictResult[];
  failures: BatchFailure[];
  csv: string;
}

export const PREDICTIONS_HEADER = ['id', 'image', 'mask', 'width', 'height', 'slices', 'area', 'mean_probability', 'error'];

function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A file name from an id: ids may hold path separators or spaces (manifest ids, volume:slice). */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || 'case';
}

export async function predictBatch(
  run: LoadedRun,
  cases: PredictCase[],
  problems: Problem[],
  outDir: string,
  options: Omit<PredictCaseOptions, 'overlay'> & { onResult?: (r: PredictResult) => void; onError?: (f: BatchFailure) => void } = {},
): Promise<BatchResult> {
  makeDir(outDir);
  const rows: string[] = [PREDICTIONS_HEADER.join(',')];
  const results: PredictResult[] = [];
  const failures: BatchFailure[] = [];
  const fail = (f: BatchFailure, id: string): void => {
    failures.push(f);
    rows.push([id, f.image, '', '', '', '', '', '', f.error].map(csvCell).join(','));
    options.onError?.(f);
  };
  for (const p of problems) fail({ image: p.where, error: p.message }, '');
  const used = new Set<string>();
  for (const c of cases) {
    const ext = maskKind(c.image) === 'nifti' ? '.nii.gz' : '.png';
    let name = `${safeName(c.id)}_mask${ext}`;
    for (let k = 2; used.has(name); k++) name = `${safeName(c.id)}-${k}_mask${ext}`;
    used.add(name);
    try {
      const r = await predictCase(run, c, join(outDir, name), options);
      results.push(r);
      rows.push([c.id, r.image, r.mask, r.width, r.height, r.slices, r.area, r.meanProbability.toFixed(6), ''].map(csvCell).join(','));
      options.onResult?.(r);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      fail({ image: c.image, error: message.includes(c.image) ? message : `${c.image}: ${message}` }, c.id);
    }
  }
  const csv = join(outDir, 'predictions.csv');
  writeFileAtomic(csv, `${rows.join('\n')}\n`);
  return { results, failures, csv };
}
