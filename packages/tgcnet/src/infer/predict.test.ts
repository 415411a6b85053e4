import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import * as nifti from 'nifti-reader-js';
import sharp from 'sharp';
import { predict, predictCommand } from '../cli/predict.js';
import { dicomBytes } from '../data/dicom_testing.js';
import { NIFTI_TYPES, type NiftiOptions, tempDir, writeNifti, writePng } from '../data/formats/testing.js';
import { decodeNifti, loadImage, windowSlice } from '../data/images.js';
import { defaultBpePath } from '../paths.js';
import { type LoadedRun, loadRun } from '../run/checkpoint.js';
import { segment, segmentPrompts } from './segment.js';
import { writeTinyRun } from './testing.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const { dir, cleanup } = tempDir('predict');
const runDir = join(dir, 'run');
const TEXT = 'bilateral opacity in the lower lung';
let run: LoadedRun;

before(() => {
  if (skip) return;
  writeTinyRun(runDir, bpe!);
  run = loadRun(runDir);
});
after(() => {
  run?.model.dispose();
  cleanup();
});

/** A 40x32 grey image holding 0 and 255 (so DICOM's min..max mapping is the identity) and a bright blob. */
function pixels(shift = 0): number[] {
  const W = 40;
  const H = 32;
  return Array.from({ length: W * H }, (_, i) => {
    const x = i % W;
    const y = Math.floor(i / W);
    if (i === 0) return 0;
    if (i === 1) return 255;
    const blob = (x - 12 - shift) ** 2 + (y - 15) ** 2 < 40 ? 200 : 0;
    return Math.min(255, 30 + x * 2 + y + blob);
  });
}

async function readMaskPng(path: string): Promise<number[]> {
  const { data } = await sharp(path).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return Array.from(data, (v) => (v > 127 ? 1 : 0));
}

async function writeInputs(sub: string): Promise<{ png: string; dcm: string }> {
  const png = join(dir, sub, 'chest.png');
  await writePng(png, 40, 32, pixels());
  const dcm = join(dir, sub, 'chest_dcm.dcm');
  writeFileSync(dcm, dicomBytes({ rows: 32, columns: 40, bitsAllocated: 8, pixels: pixels() }));
  return { png, dcm };
}

test('predict on a DICOM gives the same mask as on the equivalent PNG, at rows x columns', { skip }, async () => {
  const live = T.memory().tensors;
  const { png, dcm } = await writeInputs('same');
  assert.deepEqual(Array.from((await loadImage({ kind: 'file', path: dcm })).data), pixels());
  const a = await predict({ checkpoint: runDir, image: png, text: TEXT, out: join(dir, 'same', 'png_mask.png') });
  const b = await predict({ checkpoint: runDir, image: dcm, text: TEXT, out: join(dir, 'same', 'dcm_mask.png'), overlay: join(dir, 'same', 'overlay.png') });
  assert.equal(T.memory().tensors, live, 'no tensor outlives a prediction (predict loads and frees its own run)');
  assert.equal(b.results[0].width, 40);
  assert.equal(b.results[0].height, 32);
  const maskA = await readMaskPng(a.results[0].mask);
  const maskB = await readMaskPng(b.results[0].mask);
  assert.equal(maskB.length, 40 * 32);
  assert.deepEqual(maskB, maskA);
  const direct = await segment(run, await loadImage({ kind: 'file', path: png }), TEXT);
  assert.deepEqual(maskA, Array.from(direct.mask));
  assert.equal(b.results[0].area, direct.area);
  assert.deepEqual((await sharp(join(dir, 'same', 'overlay.png')).metadata()).width, 40);
});

test('a NIfTI volume gives a NIfTI mask with its geometry, each slice as segment() on that slice', { skip }, async () => {
  const [nx, ny, nz] = [40, 32, 3];
  const hu = Array.from({ length: nx * ny * nz }, (_, i) => {
    const z = Math.floor(i / (nx * ny));
    return Math.round(pixels(z * 4)[i % (nx * ny)] * 2.2 - 250); // about -250..310 HU, a blob moving with z
  });
  const geometry: NiftiOptions = {
    pixdim: [-1, 0.8, 0.7, 2.5, 1, 0, 0, 0],
    qform: { code: 1, b: 0, c: 0.2, d: 0.1, x: -10, y: 20.5, z: 3 },
    sform: { code: 2, rows: [[0, -0.8, 0, 12], [0.7, 0, 0.1, -4], [0, 0, 2.5, 7.25]] },
    xyztUnits: 10,
  };
  const input = join(dir, 'vol', 'ct.nii.gz');
  writeNifti(input, [nx, ny, nz], NIFTI_TYPES.int16, hu, geometry);
  const out = join(dir, 'vol', 'ct_mask.nii.gz');
  const r = await predict({ checkpoint: runDir, image: input, text: TEXT, out, overlay: join(dir, 'vol', 'overlay.png') });
  assert.deepEqual([r.results[0].width, r.results[0].height, r.results[0].slices], [nx, ny, nz]);
  const inHeader = nifti.readHeader(new Uint8Array(gunzipSync(readFileSync(input))).buffer) as nifti.NIFTI1;
  const outBytes = new Uint8Array(gunzipSync(readFileSync(out))).buffer;
  const outHeader = nifti.readHeader(outBytes) as nifti.NIFTI1;
  assert.deepEqual(outHeader.dims, inHeader.dims);
  assert.deepEqual(outHeader.pixDims, inHeader.pixDims);
  assert.deepEqual(outHeader.affine, inHeader.affine);
  assert.equal(outHeader.sform_code, 2);
  assert.equal(outHeader.qform_code, 1);
  assert.equal(outHeader.datatypeCode, 2);
  const voxels = new Uint8Array(nifti.readImage(outHeader, outBytes));
  assert.equal(voxels.length, nx * ny * nz);
  const vol = await decodeNifti(input);
  let area = 0;
  for (let z = 0; z < nz; z++) {
    const seg = await segment(run, windowSlice(vol, z, [-160, 240]), TEXT);
    assert.deepEqual(Array.from(voxels.subarray(z * nx * ny, (z + 1) * nx * ny)), Array.from(seg.mask), `slice ${z}`);
    area += seg.area;
  }
  assert.equal(r.results[0].area, area);
  assert.ok(existsSync(join(dir, 'vol', 'overlay.png')));
  await assert.rejects(predict({ checkpoint: runDir, image: input, text: TEXT, out: join(dir, 'vol', 'x.png') }), /NIfTI volume: its mask is a NIfTI volume too/);
});

test('a manifest with bad rows: the good cases are written, the CSV lists every row, the command fails', { skip }, async () => {
  const { png, dcm } = await writeInputs('batch');
  const compressed = join(dir, 'batch', 'compressed.dcm');
  writeFileSync(compressed, dicomBytes({ rows: 2, columns: 2, bitsAllocated: 8, pixels: [0, 1, 2, 3], transferSyntax: '1.2.840.10008.1.2.4.57' }));
  writeNifti(join(dir, 'batch', 'small.nii'), [40, 32, 2], NIFTI_TYPES.int16, new Array(40 * 32 * 2).fill(0).map((_, i) => (i % 97) * 5 - 100));
  const manifest = join(dir, 'batch', 'manifest.csv');
  writeFileSync(
    manifest,
    [
      'image,text,aux,id',
      `chest.png,${TEXT},,a`,
      `chest_dcm.dcm,"${TEXT}, left",,b`,
      'missing.png,opacity,,c',
      'compressed.dcm,opacity,,d',
      'chest.png,,,e',
      'small.nii,liver,,f',
    ].join('\n'),
  );
  const outDir = join(dir, 'batch', 'out');
  const logged: string[] = [];
  const r = await predict({ checkpoint: runDir, manifest, out: outDir }, (l) => logged.push(l));
  assert.deepEqual(r.results.map((x) => x.mask.slice(outDir.length + 1)), ['a_mask.png', 'b_mask.png', 'f_mask.nii.gz']);
  for (const x of r.results) assert.ok(existsSync(x.mask), x.mask);
  assert.equal(r.failures.length, 3);
  const reported = r.failures.map((f) => `${f.image}: ${f.error}`).join('\n');
  assert.match(reported, /manifest\.csv line 6: no text/);
  assert.match(reported, /missing\.png.*file not found/);
  assert.match(reported, /compressed\.dcm.*JPEG lossless-compressed \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.57\)/);
  assert.equal(logged.filter((l) => l.startsWith('tgcnet: skipped')).length, 3);
  const csv = readFileSync(join(outDir, 'predictions.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'id,image,mask,width,height,slices,area,mean_probability,error');
  assert.equal(csv.length, 1 + 6);
  assert.ok(csv.some((l) => l.includes('f_mask.nii.gz,40,32,2,')));
  await assert.rejects(predictCommand({ checkpoint: runDir, manifest, out: join(dir, 'batch', 'out2'), json: true }), /3 of 6 cases failed/);
  assert.ok(existsSync(join(dir, 'batch', 'out2', 'predictions.csv')));
});

test('a folder of PNG, DICOM and NIfTI inputs writes one mask of each kind', { skip }, async () => {
  await writeInputs('folder');
  writeNifti(join(dir, 'folder', 'vol.nii.gz'), [40, 32, 2], NIFTI_TYPES.int16, new Array(40 * 32 * 2).fill(50));
  mkdirSync(join(dir, 'folder', 'sub'));
  const r = await predict({ checkpoint: runDir, image: join(dir, 'folder'), text: TEXT, out: join(dir, 'folder-out') });
  assert.deepEqual(r.results.map((x) => x.mask.slice(join(dir, 'folder-out').length + 1)).sort(), ['chest_dcm_mask.png', 'chest_mask.png', 'vol_mask.nii.gz']);
  assert.equal(r.failures.length, 0);
  await assert.rejects(predict({ checkpoint: runDir, image: join(dir, 'folder'), out: join(dir, 'x') }), /--text is required/);
  await assert.rejects(predict({ checkpoint: runDir, image: join(dir, 'folder'), text: TEXT, out: join(dir, 'x'), window: '5,1' }), /--window 5,1/);
  await assert.rejects(predict({ checkpoint: runDir, image: join(dir, 'folder'), text: TEXT, out: join(dir, 'x.png') }), /--out x\.png names a file.*a folder/);
});

test('several prompts about one image: encoded once, each mask as segment() gives it', { skip }, async () => {
  const image = { width: 40, height: 32, data: Uint8Array.from(pixels()) };
  const prompts = [
    { text: TEXT, aux: null },
    { text: 'a lesion in the upper left lung', aux: 'upper left zone' },
    { text: 'no infection', aux: null },
  ];
  const together = await segmentPrompts(run, image, prompts);
  assert.equal(together.length, 3);
  for (const [i, p] of prompts.entries()) {
    const alone = await segment(run, image, p.text, p.aux);
    assert.deepEqual(Array.from(together[i].mask), Array.from(alone.mask), `prompt ${i}`);
    assert.ok(Math.abs(together[i].meanProbability - alone.meanProbability) < 1e-5, `prompt ${i}: ${together[i].meanProbability} vs ${alone.meanProbability}`);
  }
  // The frozen text tower's cache now holds every prompt: a second call adds nothing.
  const live = T.memory().tensors;
  await segmentPrompts(run, image, prompts);
  assert.equal(T.memory().tensors, live, 'no tensor outlives the call');
});
