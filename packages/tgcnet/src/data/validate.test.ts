import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NIFTI_TYPES, tempDir, writeGarbage, writeNifti, writePng } from './formats/testing.js';
import type { CaseRecord, Dataset } from './types.js';
import { loadMask } from './images.js';
import { withMaskThreshold } from './mask_values.js';
import { dropBadCases, formatProblems, mapLimit, validateDataset } from './validate.js';

describe('validateDataset', () => {
  const tmp = tempDir('validate');
  const f = (name: string) => join(tmp.dir, name);
  const fileCase = (id: string, image: string, mask: string | null, text = `text of ${id}`): CaseRecord => ({
    id,
    split: 'train',
    image: { kind: 'file', path: f(image) },
    mask: mask === null ? null : { kind: 'file', path: f(mask) },
    text,
    aux: null,
  });
  let ds: Dataset;

  before(async () => {
    await writePng(f('ok.png'), 8, 8, 10);
    await writePng(f('ok_mask.png'), 8, 8, 255);
    writeGarbage(f('garbage.png'));
    await writePng(f('small_mask.png'), 4, 8, 0);
    writeGarbage(f('garbage_mask.png'));
    // A PNG cut short: its header reads, its pixels do not.
    await writePng(f('big.png'), 64, 64, Array.from({ length: 64 * 64 }, (_, i) => (i * 37) % 251));
    const png = readFileSync(f('big.png'));
    writeFileSync(f('truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
    await writePng(f('big_mask.png'), 64, 64, 0);
    writeNifti(f('img.nii.gz'), [8, 8, 3], NIFTI_TYPES.int16, new Array(192).fill(0));
    writeNifti(f('lab.nii.gz'), [8, 6, 3], NIFTI_TYPES.uint8, new Array(144).fill(0));
    ds = {
      format: 'manifest',
      root: tmp.dir,
      problems: [{ where: 'manifest.csv line 9', message: 'unknown split "x"' }],
      cases: [
        fileCase('good', 'ok.png', 'ok_mask.png'),
        fileCase('unlabelled', 'ok.png', null),
        fileCase('no-image', 'missing.png', 'ok_mask.png'),
        fileCase('no-mask', 'ok.png', 'missing_mask.png'),
        fileCase('unreadable', 'garbage.png', 'ok_mask.png'),
        fileCase('bad-mask', 'ok.png', 'garbage_mask.png'),
        fileCase('mismatch', 'ok.png', 'small_mask.png'),
        fileCase('no-text', 'ok.png', 'ok_mask.png', '  '),
        fileCase('truncated', 'truncated.png', 'big_mask.png'),
        {
          id: 'vol:1:1',
          split: 'test',
          image: { kind: 'nifti-slice', path: f('img.nii.gz'), slice: 1, window: [-160, 240] },
          mask: { kind: 'nifti-slice', path: f('lab.nii.gz'), slice: 1, label: 1 },
          text: 'spleen in an abdominal CT slice.',
          aux: null,
        },
        {
          id: 'vol:7:1',
          split: 'test',
          image: { kind: 'nifti-slice', path: f('img.nii.gz'), slice: 7, window: [-160, 240] },
          mask: null,
          text: 'spleen in an abdominal CT slice.',
          aux: null,
        },
      ],
    };
  });
  after(() => tmp.cleanup());

  it('lists every bad case in one report, after the index problems', async () => {
    const problems = await validateDataset(ds, { concurrency: 3 });
    assert.deepEqual(problems[0], ds.problems[0]);
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message);
    assert.deepEqual(about('good'), []);
    assert.deepEqual(about('unlabelled'), []);
    assert.deepEqual(about('no-image'), [`image file missing: ${f('missing.png')}`]);
    assert.deepEqual(about('no-mask'), [`mask file missing: ${f('missing_mask.png')}`]);
    assert.match(about('unreadable').join(), /^unreadable image .*garbage\.png: /);
    assert.match(about('bad-mask').join(), /^unreadable mask .*garbage_mask\.png: /);
    assert.deepEqual(about('mismatch'), [`size mismatch: image ${f('ok.png')} is 8x8, mask ${f('small_mask.png')} is 4x8`]);
    assert.deepEqual(about('no-text'), ['empty text']);
    assert.deepEqual(about('truncated'), [], 'a header read does not decode pixels');
    assert.match(about('vol:1:1').join(), /size mismatch: image .*img\.nii\.gz is 8x8, mask .*lab\.nii\.gz is 8x6/);
    assert.match(about('vol:7:1').join(), /slice 7 out of range \(the volume has 3 slices\)/);
    // The order follows the cases.
    const ids = problems.slice(1).map((p) => p.where);
    assert.deepEqual(ids, ['no-image', 'no-mask', 'unreadable', 'bad-mask', 'mismatch', 'no-text', 'vol:1:1', 'vol:7:1']);
  });

  it('decodes pixels with checkPixels, catching truncated files', async () => {
    const problems = await validateDataset({ ...ds, problems: [], cases: ds.cases.filter((c) => c.id === 'truncated' || c.id === 'good') }, { checkPixels: true });
    assert.equal(problems.length, 1);
    assert.equal(problems[0].where, 'truncated');
    assert.match(problems[0].message, /cannot read image .*truncated\.png/);
  });

  it('with checkPixels, reports mask values other than 0/255 or 0/1 with what the rule makes of them', async () => {
    await writePng(f('m0_100.png'), 8, 8, Array.from({ length: 64 }, (_, i) => (i < 20 ? 100 : 0)));
    await writePng(f('m01_stray.png'), 8, 8, Array.from({ length: 64 }, (_, i) => (i === 0 ? 255 : i < 30 ? 1 : 0)));
    await writePng(f('m01.png'), 8, 8, Array.from({ length: 64 }, (_, i) => (i < 30 ? 1 : 0)));
    await writePng(f('m0_255.png'), 8, 8, Array.from({ length: 64 }, (_, i) => (i < 30 ? 255 : 0)));
    const cases = [
      fileCase('m0_100', 'ok.png', 'm0_100.png'),
      fileCase('m01_stray', 'ok.png', 'm01_stray.png'),
      fileCase('m01', 'ok.png', 'm01.png'),
      fileCase('m0_255', 'ok.png', 'm0_255.png'),
    ];
    const problems = await validateDataset({ ...ds, problems: [], cases }, { checkPixels: true });
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message);
    assert.deepEqual(about('m0_100'), ['mask values {0, 100} are not 0/255 or 0/1: read as foreground where > 127, that is an empty mask; rewrite the mask as 0/255 if that is not what it means']);
    assert.match(about('m01_stray').join(), /^mask values \{0, 1, 255\} .* that is 1 foreground pixel\(s\) of 64/);
    assert.deepEqual(about('m01'), []);
    assert.deepEqual(about('m0_255'), []);
    assert.equal(problems.length, 2, 'no dataset-wide problem: some masks have foreground');
  });

  it('a stated mask threshold binarises at it and silences the value report', async () => {
    const cases = withMaskThreshold([fileCase('m0_100', 'ok.png', 'm0_100.png')], 50);
    assert.deepEqual(await validateDataset({ ...ds, problems: [], cases }, { checkPixels: true }), []);
    const mask = await loadMask(cases[0].mask!);
    assert.equal(mask.data.reduce((a, v) => a + v, 0), 20);
    const auto = await loadMask({ kind: 'file', path: f('m0_100.png') });
    assert.equal(auto.data.reduce((a, v) => a + v, 0), 0, 'the automatic rule reads 0/100 as empty');
  });

  it('with checkPixels, says so when every mask is empty', async () => {
    const seen: number[] = [];
    const problems = await validateDataset(
      { ...ds, problems: [], cases: [fileCase('e1', 'ok.png', 'big_mask.png'), fileCase('e2', 'ok.png', 'big_mask.png')].map((c) => ({ ...c, image: { kind: 'file' as const, path: f('big.png') } })) },
      { checkPixels: true, onProgress: (done) => seen.push(done) },
    );
    assert.deepEqual(seen, [1, 2]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].where, tmp.dir);
    assert.match(problems[0].message, /^every one of the 2 masks is empty after binarising/);
  });

  it('drops the cases a problem names (--skip-bad)', async () => {
    const problems = await validateDataset(ds);
    assert.deepEqual(
      dropBadCases(ds.cases, problems).map((c) => c.id),
      ['good', 'unlabelled', 'truncated'],
    );
  });

  it('formats a report, one line per problem, up to a limit', () => {
    assert.equal(formatProblems([]), 'no problems found');
    const many = Array.from({ length: 5 }, (_, i) => ({ where: `case${i}`, message: `bad ${i}` }));
    assert.equal(formatProblems(many, 2), '  case0: bad 0\n  case1: bad 1\n  ... and 3 more');
    assert.equal(formatProblems(many.slice(0, 1)), '  case0: bad 0');
    assert.equal(formatProblems(many).split('\n').length, 5);
  });

  it('bounds concurrency and keeps result order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (v) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, v));
      running--;
      return v * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});
