import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDataset } from '../detect.js';
import { validateDataset } from '../validate.js';
import { sgseg } from './sgseg.js';
import { tempDir, writeGarbage, writePng, writeText } from './testing.js';

describe('sgseg format', () => {
  const tmp = tempDir('sgseg');
  const root = tmp.dir;

  before(async () => {
    const tr = join(root, 'images', 'train');
    for (const name of ['covid_1', 'covid_2']) {
      await writePng(join(tr, 'images', `${name}.png`), 8, 8, 120);
      await writePng(join(tr, 'masks', `mask_${name}.png`), 8, 8, 255);
    }
    await writePng(join(tr, 'images', 'nomask.png'), 8, 8, 1); // mask file missing
    await writePng(join(tr, 'images', 'notext.png'), 8, 8, 1); // no caption
    await writePng(join(tr, 'masks', 'mask_notext.png'), 8, 8, 0);
    writeGarbage(join(tr, 'images', 'garbage.png')); // unreadable image
    await writePng(join(tr, 'masks', 'mask_garbage.png'), 8, 8, 0);
    await writePng(join(tr, 'images', 'big.png'), 10, 8, 1); // size mismatch
    await writePng(join(tr, 'masks', 'mask_big.png'), 8, 8, 0);
    await writePng(join(tr, 'images', 'orphan.png'), 8, 8, 1); // no entry at all
    await writePng(join(tr, 'masks', 'mask_orphan.png'), 8, 8, 0);
    const va = join(root, 'images', 'valid');
    await writePng(join(va, 'images', 'covid_7.png'), 8, 8, 120);
    await writePng(join(va, 'masks', 'mask_covid_7.png'), 8, 8, 1);
    const entry = (image_path: string, caption: string) => ({ image_path, caption, pulmonary_infection: 1, infected_area: 1, pseudo_label: [1, 0, 0, 0, 0, 0] });
    writeText(
      join(root, 'prompts', 'annotation.json'),
      JSON.stringify({
        train: [
          entry('mask_covid_1.png', 'bilateral pulmonary infection, two infected areas, upper left lung and upper right lung.'),
          entry('mask_covid_2.png', 'unilateral pulmonary infection, one infected area, lower left lung.'),
          entry('mask_nomask.png', 'its mask is missing.'),
          entry('mask_notext.png', ''),
          entry('mask_garbage.png', 'an unreadable image.'),
          entry('mask_big.png', 'a size mismatch.'),
        ],
        valid: [entry('mask_covid_7.png', 'unilateral pulmonary infection, one infected area, middle right lung.')],
      }),
    );
  });
  after(() => tmp.cleanup());

  it('is detected', () => {
    assert.equal(sgseg.detect(root), true);
    assert.equal(sgseg.detect(join(root, 'images')), false);
  });

  it('reads train and valid (as val) from annotation.json', async () => {
    const ds = await sgseg.read(root);
    assert.equal(ds.format, 'sgseg');
    assert.deepEqual(
      ds.cases.map((c) => `${c.split}/${c.id}`),
      ['train/covid_1', 'train/covid_2', 'train/garbage', 'train/big', 'val/covid_7'],
    );
    const c = ds.cases[0];
    assert.equal(c.text, 'bilateral pulmonary infection, two infected areas, upper left lung and upper right lung.');
    assert.equal(c.image.path, join(root, 'images', 'train', 'images', 'covid_1.png'));
    assert.equal(c.mask!.path, join(root, 'images', 'train', 'masks', 'mask_covid_1.png'));
    const val = await sgseg.read(root, { splits: ['val'] });
    assert.deepEqual(val.cases.map((x) => x.id), ['covid_7']);
    assert.deepEqual(val.problems, []);
  });

  it('reports every bad row together', async () => {
    const ds = await sgseg.read(root);
    const problems = await validateDataset(ds);
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message).join(' | ');
    assert.match(about('nomask'), /mask file missing: .*mask_nomask\.png/);
    assert.match(about('notext'), /no caption/);
    assert.match(about('garbage'), /unreadable image .*garbage\.png/);
    assert.match(about('big'), /size mismatch: image .*big\.png is 10x8, mask .*mask_big\.png is 8x8/);
    assert.match(about('orphan'), /no text: annotation\.json "train" has no entry/);
    assert.equal(problems.length, 5);
  });

  it('treats a folder holding only the asked split as valid; an absent split is empty, not a problem', async () => {
    const onlyVal = await sgseg.read(root, { splits: ['val'] });
    assert.equal(onlyVal.problems.length, 0);
    const test = await sgseg.read(root, { splits: ['test'] });
    assert.deepEqual([test.cases.length, test.problems.length], [0, 0]);
  });
});

describe('sgseg on the real QaTa-COV19 copy', () => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const repo = resolve(here, '../../../../..'); // from packages/tgcnet/dist/data/formats
  const candidates = [process.env.TGCNET_QATA, join(repo, 'shared/data/qata-cov19'), join(repo, '../shared/data/qata-cov19')].filter(
    (p): p is string => typeof p === 'string' && p !== '',
  );
  const root = candidates.find((p) => existsSync(join(p, 'prompts', 'annotation.json')));

  it('reads 5716 train and 1429 val cases', { skip: root ? false : `QaTa-COV19 not found (looked in ${candidates.join(', ')})` }, async () => {
    const ds = await openDataset(root!);
    assert.equal(ds.format, 'sgseg');
    assert.deepEqual(ds.problems, []);
    assert.equal(ds.cases.filter((c) => c.split === 'train').length, 5716);
    assert.equal(ds.cases.filter((c) => c.split === 'val').length, 1429);
    const annotation = JSON.parse(readFileSync(join(root!, 'prompts', 'annotation.json'), 'utf8')) as { train: { image_path: string; caption: string }[] };
    const first = ds.cases[0];
    assert.equal(first.text, annotation.train[0].caption.trim());
    assert.equal(first.mask!.path, join(root!, 'images', 'train', 'masks', annotation.train[0].image_path));
    assert.equal(first.image.path, join(root!, 'images', 'train', 'images', annotation.train[0].image_path.replace(/^mask_/, '')));
  });
});
