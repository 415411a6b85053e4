import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadMask } from '../images.js';
import { validateDataset } from '../validate.js';
import { lvit } from './lvit.js';
import { sgseg } from './sgseg.js';
import { manifest } from './manifest.js';
import { msd } from './msd.js';
import { languidemedseg } from './languidemedseg.js';
import { tempDir, writeGarbage, writePng, writeXlsx } from './testing.js';

const HEADER = ['Image', 'Description'];

describe('lvit format', () => {
  const tmp = tempDir('lvit');
  const root = join(tmp.dir, 'QaTa');
  const mosmed = join(tmp.dir, 'MosMed');

  before(async () => {
    const tr = join(root, 'Train_Folder');
    // Good cases, QaTa naming: img/<x>.png, labelcol/mask_<x>.png.
    await writePng(join(tr, 'img', 'covid_1.png'), 8, 8, 100);
    await writePng(join(tr, 'labelcol', 'mask_covid_1.png'), 8, 8, 255);
    await writePng(join(tr, 'img', 'covid_2.png'), 8, 8, 50);
    // A 3-channel mask, red on black.
    await writePng(join(tr, 'labelcol', 'mask_covid_2.png'), 8, 8, Array.from({ length: 64 }, (_, i) => (i < 32 ? [255, 0, 0] : [0, 0, 0])).flat(), 3);
    // Bad rows.
    await writePng(join(tr, 'img', 'nomask.png'), 8, 8, 10); // no mask file
    await writePng(join(tr, 'img', 'notext.png'), 8, 8, 10); // no xlsx row
    await writePng(join(tr, 'labelcol', 'mask_notext.png'), 8, 8, 0);
    writeGarbage(join(tr, 'img', 'garbage.png')); // unreadable image
    await writePng(join(tr, 'labelcol', 'mask_garbage.png'), 8, 8, 0);
    await writePng(join(tr, 'img', 'big.png'), 8, 8, 10); // size mismatch
    await writePng(join(tr, 'labelcol', 'mask_big.png'), 6, 6, 0);
    await writePng(join(tr, 'img', 'blank.png'), 8, 8, 10); // empty Description
    await writePng(join(tr, 'labelcol', 'mask_blank.png'), 8, 8, 0);
    await writeXlsx(join(tr, 'Train_text.xlsx'), [
      HEADER,
      ['mask_covid_1.png', '  Bilateral pulmonary infection, two infected areas,\nupper left lung and upper right lung. '],
      ['mask_covid_2.png', 'Unilateral pulmonary infection, one infected area, lower left lung.'],
      ['mask_nomask.png', 'no mask for this one.'],
      ['mask_garbage.png', 'an unreadable image.'],
      ['mask_big.png', 'a size mismatch.'],
      ['mask_blank.png', ''],
      ['mask_ghost.png', 'a row whose image is missing.'],
    ]);
    const va = join(root, 'Val_Folder');
    await writePng(join(va, 'img', 'covid_9.png'), 8, 8, 100);
    await writePng(join(va, 'labelcol', 'mask_covid_9.png'), 8, 8, 1);
    await writeXlsx(join(va, 'Val_text.xlsx'), [HEADER, ['mask_covid_9.png', 'Unilateral pulmonary infection, one infected area, upper right lung.']]);

    // MosMedData+ naming: image and mask share a stem; only a Test_Folder.
    const te = join(mosmed, 'Test_Folder');
    await writePng(join(te, 'img', 'study_0255_12.png'), 8, 8, 100);
    await writePng(join(te, 'labelcol', 'study_0255_12.png'), 8, 8, 255);
    await writeXlsx(join(te, 'Test_text.xlsx'), [HEADER, ['study_0255_12.png', 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.']]);
  });
  after(() => tmp.cleanup());

  it('is detected, and the other formats are not', () => {
    assert.equal(lvit.detect(root), true);
    assert.equal(lvit.detect(mosmed), true);
    for (const other of [sgseg, manifest, msd, languidemedseg]) assert.equal(other.detect(root), false, other.name);
    assert.equal(lvit.detect(tmp.dir), false);
  });

  it('reads the cases of every split there is, texts keyed by mask name', async () => {
    const ds = await lvit.read(root);
    assert.equal(ds.format, 'lvit');
    assert.deepEqual(
      ds.cases.map((c) => `${c.split}/${c.id}`),
      // big and garbage pass the index (their files are there); validation catches them.
      ['train/big', 'train/covid_1', 'train/covid_2', 'train/garbage', 'val/covid_9'],
    );
    const c1 = ds.cases.find((c) => c.id === 'covid_1')!;
    assert.equal(c1.text, 'Bilateral pulmonary infection, two infected areas, upper left lung and upper right lung.');
    assert.deepEqual(c1.image, { kind: 'file', path: join(root, 'Train_Folder', 'img', 'covid_1.png') });
    assert.deepEqual(c1.mask, { kind: 'file', path: join(root, 'Train_Folder', 'labelcol', 'mask_covid_1.png') });
    assert.equal(c1.aux, null);
    const mask2 = await loadMask(ds.cases.find((c) => c.id === 'covid_2')!.mask!);
    assert.deepEqual([...mask2.data].slice(28, 36), [1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('reports every bad row together, at reading and validation', async () => {
    const ds = await lvit.read(root);
    const read = ds.problems.map((p) => p.where);
    assert.ok(read.includes('nomask'), 'missing mask');
    assert.ok(read.includes('notext'), 'missing text');
    assert.ok(read.includes('blank'), 'empty Description');
    assert.ok(read.some((w) => w.endsWith('Train_text.xlsx row 8')), 'row without an image');
    // garbage and big pass the index (files are there) and fail validation.
    assert.ok(ds.cases.every((c) => c.id !== 'nomask' && c.id !== 'notext'));
    const all = await validateDataset(ds);
    const where = (id: string) => all.filter((p) => p.where === id).map((p) => p.message).join(' | ');
    assert.match(where('nomask'), /no mask/);
    assert.match(where('notext'), /no text/);
    assert.match(where('garbage'), /unreadable image .*garbage\.png/);
    assert.match(where('big'), /size mismatch: image .*big\.png is 8x8, mask .*mask_big\.png is 6x6/);
    assert.equal(all.filter((p) => ['covid_1', 'covid_2', 'covid_9'].includes(p.where)).length, 0);
  });

  it('reads MosMedData+ naming, and only the split asked for', async () => {
    const ds = await lvit.read(mosmed, { splits: ['test'] });
    assert.deepEqual(ds.problems, []);
    assert.equal(ds.cases.length, 1);
    assert.equal(ds.cases[0].id, 'study_0255_12');
    assert.equal(ds.cases[0].split, 'test');
    assert.equal(ds.cases[0].mask!.path, join(mosmed, 'Test_Folder', 'labelcol', 'study_0255_12.png'));
    const missing = await lvit.read(mosmed, { splits: ['train'] });
    assert.deepEqual([missing.cases.length, missing.problems.length], [0, 0], 'an absent split is empty, not a problem');
  });

  it('throws, naming the folder, when the folder is not LViT', async () => {
    await assert.rejects(lvit.read(tmp.dir), (err: Error) => err.message.includes(tmp.dir) && err.message.includes('Train_Folder'));
  });
});
