import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateDataset } from '../validate.js';
import { languidemedseg } from './languidemedseg.js';
import { tempDir, writeGarbage, writePng, writeText } from './testing.js';

describe('languidemedseg format', () => {
  const tmp = tempDir('lgms');
  const flat = join(tmp.dir, 'flat'); // Images/ and GTs/ at the top
  const perSplit = join(tmp.dir, 'split'); // Train/{Images,GTs}, Test/{Images,GTs}, as the original code
  const trainNames = Array.from({ length: 10 }, (_, i) => `covid_${i + 1}`);

  before(async () => {
    for (const name of trainNames) {
      await writePng(join(flat, 'Images', `${name}.png`), 8, 8, 90);
      await writePng(join(flat, 'GTs', `mask_${name}.png`), 8, 8, 255);
    }
    await writePng(join(flat, 'Images', 'test_1.png'), 8, 8, 90);
    await writePng(join(flat, 'GTs', 'mask_test_1.png'), 8, 8, 255);
    // Bad rows, in test.csv.
    await writePng(join(flat, 'Images', 'nomask.png'), 8, 8, 90);
    await writePng(join(flat, 'Images', 'notext.png'), 8, 8, 90);
    await writePng(join(flat, 'GTs', 'mask_notext.png'), 8, 8, 0);
    writeGarbage(join(flat, 'Images', 'garbage.png'));
    await writePng(join(flat, 'GTs', 'mask_garbage.png'), 8, 8, 0);
    await writePng(join(flat, 'Images', 'big.png'), 8, 8, 90);
    await writePng(join(flat, 'GTs', 'mask_big.png'), 8, 12, 0);
    writeText(
      join(flat, 'prompt', 'train.csv'),
      'Image,Description\n' + trainNames.map((n, i) => `mask_${n}.png,"Unilateral pulmonary infection, one infected area, case ${i + 1}."`).join('\n') + '\n',
    );
    writeText(
      join(flat, 'prompt', 'test.csv'),
      '\uFEFFImage,Description\r\n' +
        'mask_test_1.png,"Bilateral pulmonary infection, two infected areas, upper left lung and upper right lung."\r\n' +
        'mask_nomask.png,a missing mask\r\n' +
        'mask_notext.png,\r\n' +
        'mask_garbage.png,an unreadable image\r\n' +
        'mask_big.png,a size mismatch\r\n',
    );

    await writePng(join(perSplit, 'Test', 'Images', 'x1.png'), 8, 8, 90);
    await writePng(join(perSplit, 'Test', 'GTs', 'mask_x1.png'), 8, 8, 255);
    writeText(join(perSplit, 'prompt', 'test.csv'), 'Image,Description\nmask_x1.png,some text.\n');
  });
  after(() => tmp.cleanup());

  it('is detected in both layouts', () => {
    assert.equal(languidemedseg.detect(flat), true);
    assert.equal(languidemedseg.detect(perSplit), true);
    assert.equal(languidemedseg.detect(tmp.dir), false);
  });

  it('takes validation as the last 20% of train.csv in file order', async () => {
    const ds = await languidemedseg.read(flat, { splits: ['train', 'val'] });
    assert.deepEqual(ds.problems, []);
    assert.deepEqual(
      ds.cases.filter((c) => c.split === 'train').map((c) => c.id),
      trainNames.slice(0, 8),
    );
    assert.deepEqual(
      ds.cases.filter((c) => c.split === 'val').map((c) => c.id),
      ['covid_9', 'covid_10'],
    );
    const c = ds.cases[0];
    assert.equal(c.text, 'Unilateral pulmonary infection, one infected area, case 1.');
    assert.equal(c.image.path, join(flat, 'Images', 'covid_1.png'));
    assert.equal(c.mask!.path, join(flat, 'GTs', 'mask_covid_1.png'));
  });

  it('reports every bad row of test.csv together', async () => {
    const ds = await languidemedseg.read(flat, { splits: ['test'] });
    assert.deepEqual(
      ds.cases.map((c) => c.id),
      ['test_1', 'garbage', 'big'],
    );
    const problems = await validateDataset(ds);
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message).join(' | ');
    assert.match(about('nomask'), /mask file missing: .*mask_nomask\.png \(.*test\.csv line 3\)/);
    assert.match(about('notext'), /empty Description \(.*test\.csv line 4\)/);
    assert.match(about('garbage'), /unreadable image/);
    assert.match(about('big'), /size mismatch: image .*big\.png is 8x8, mask .*mask_big\.png is 8x12/);
    assert.equal(problems.length, 4);
  });

  it('reads the per-split layout holding only a test split', async () => {
    const ds = await languidemedseg.read(perSplit);
    assert.deepEqual(ds.problems, []);
    assert.deepEqual(ds.cases.map((c) => [c.split, c.id, c.image.path]), [['test', 'x1', join(perSplit, 'Test', 'Images', 'x1.png')]]);
    const asked = await languidemedseg.read(perSplit, { splits: ['train'] });
    assert.deepEqual([asked.cases.length, asked.problems.length], [0, 0]);
  });
});
