import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateDataset } from '../validate.js';
import { hashSplit } from './common.js';
import { manifest } from './manifest.js';
import { tempDir, writeGarbage, writePng, writeText } from './testing.js';

describe('manifest format', () => {
  const tmp = tempDir('manifest');
  const csvRoot = join(tmp.dir, 'csv');
  const jsonlRoot = join(tmp.dir, 'jsonl');

  before(async () => {
    for (const root of [csvRoot, jsonlRoot]) {
      await writePng(join(root, 'img', 'a.png'), 8, 8, 10);
      await writePng(join(root, 'msk', 'a.png'), 8, 8, 255);
      await writePng(join(root, 'img', 'b.png'), 8, 8, 10);
      await writePng(join(root, 'msk', 'b.png'), 8, 8, 1);
      await writePng(join(root, 'img', 'c.png'), 8, 8, 10);
      await writePng(join(root, 'msk', 'c.png'), 8, 8, 0);
      await writePng(join(root, 'img', 'nomask.png'), 8, 8, 10);
      await writePng(join(root, 'img', 'notext.png'), 8, 8, 10);
      await writePng(join(root, 'msk', 'notext.png'), 8, 8, 0);
      writeGarbage(join(root, 'img', 'garbage.png'));
      await writePng(join(root, 'msk', 'garbage.png'), 8, 8, 0);
      await writePng(join(root, 'img', 'big.png'), 8, 8, 10);
      await writePng(join(root, 'msk', 'big.png'), 4, 4, 0);
    }
    writeText(
      join(csvRoot, 'manifest.csv'),
      [
        'image,mask,text,aux,split',
        'img/a.png,msk/a.png,"lesion, upper left.",left side,train',
        'img/b.png,msk/b.png,lesion lower right.,,valid',
        'img/c.png,msk/c.png,no split given.,,',
        'img/nomask.png,msk/nomask.png,a missing mask.,,test',
        'img/notext.png,msk/notext.png,,,test',
        'img/garbage.png,msk/garbage.png,an unreadable image.,,test',
        'img/big.png,msk/big.png,a size mismatch.,,test',
        'img/d.png,msk/d.png,bad split.,,holdout',
      ].join('\n') + '\n',
    );
    const rows = [
      { image: 'img/a.png', mask: 'msk/a.png', text: 'lesion, upper left.', aux: 'left side', split: 'train' },
      { image: 'img/b.png', mask: 'msk/b.png', text: 'lesion lower right.', split: 'val', id: 'case-b' },
      { image: 'img/nomask.png', mask: 'msk/nomask.png', text: 'a missing mask.', split: 'test' },
      { image: 'img/notext.png', mask: 'msk/notext.png', text: '', split: 'test' },
      { image: 'img/garbage.png', mask: 'msk/garbage.png', text: 'an unreadable image.', split: 'test' },
      { image: 'img/big.png', mask: 'msk/big.png', text: 'a size mismatch.', split: 'test' },
    ];
    writeText(join(jsonlRoot, 'data.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n{not json\n');
  });
  after(() => tmp.cleanup());

  it('is detected from the folder or the file', () => {
    assert.equal(manifest.detect(csvRoot), true);
    assert.equal(manifest.detect(join(csvRoot, 'manifest.csv')), true);
    assert.equal(manifest.detect(jsonlRoot), false); // data.jsonl is not named manifest.*
    assert.equal(manifest.detect(join(jsonlRoot, 'data.jsonl')), true);
  });

  it('reads a CSV manifest: paths relative to it, aux, split names, hash split when none', async () => {
    const ds = await manifest.read(csvRoot);
    const a = ds.cases.find((c) => c.id === 'a')!;
    assert.deepEqual(a, {
      id: 'a',
      split: 'train',
      image: { kind: 'file', path: join(csvRoot, 'img', 'a.png') },
      mask: { kind: 'file', path: join(csvRoot, 'msk', 'a.png') },
      text: 'lesion, upper left.',
      aux: 'left side',
    });
    const b = ds.cases.find((c) => c.id === 'b')!;
    assert.equal(b.split, 'val');
    assert.equal(b.aux, null);
    assert.equal(ds.cases.find((c) => c.id === 'c')!.split, hashSplit('c'));
    const train = await manifest.read(csvRoot, { splits: ['train'] });
    assert.ok(train.cases.every((c) => c.split === 'train'));
    assert.ok(train.cases.some((c) => c.id === 'a'));
  });

  it('reports every bad row of a CSV manifest together', async () => {
    const ds = await manifest.read(csvRoot);
    const problems = await validateDataset(ds);
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message).join(' | ');
    assert.match(about('nomask'), /mask file missing: .*nomask\.png \(.*manifest\.csv line 5\)/);
    assert.match(about('notext'), /no text/);
    assert.match(about('garbage'), /unreadable image/);
    assert.match(about('big'), /size mismatch: .* is 8x8, .* is 4x4/);
    assert.match(about('d'), /unknown split "holdout"/);
  });

  it('reads a JSONL manifest given as a file, with ids and the bad rows reported', async () => {
    const file = join(jsonlRoot, 'data.jsonl');
    const ds = await manifest.read(file);
    assert.equal(ds.root, file);
    assert.deepEqual(
      ds.cases.map((c) => `${c.split}/${c.id}`),
      ['train/a', 'val/case-b', 'test/garbage', 'test/big'],
    );
    const problems = await validateDataset(ds);
    const where = new Set(problems.map((p) => p.where));
    for (const id of ['nomask', 'notext', 'garbage', 'big']) assert.ok(where.has(id), id);
    assert.ok(problems.some((p) => p.where === `${file} line 7` && /not valid JSON/.test(p.message)));
  });

  it('throws, naming the folder, when there is no manifest', async () => {
    await assert.rejects(manifest.read(jsonlRoot), (err: Error) => err.message.includes(jsonlRoot) && err.message.includes('manifest.csv'));
  });
  it('names the line a row starts on after a quoted line break and CRLF endings, and drops only the second copy of an id', async () => {
    const root = join(tmp.dir, 'lines');
    await writePng(join(root, 'img', 'a.png'), 8, 8, 10);
    await writePng(join(root, 'msk', 'a.png'), 8, 8, 255);
    writeText(
      join(root, 'manifest.csv'),
      ['image,mask,text,id', 'img/a.png,msk/a.png,"a prompt over\ntwo lines",first', '', 'img/a.png,msk/missing.png,x,second\r', 'img/a.png,msk/a.png,y,first'].join('\n'),
    );
    const ds = await manifest.read(root, {});
    const file = join(root, 'manifest.csv');
    assert.deepEqual(ds.cases.map((c) => c.id), ['first']);
    const problems = [...ds.problems, ...(await validateDataset({ ...ds, problems: [] }))];
    assert.ok(problems.some((p) => p.where === 'second' && p.message.endsWith(`(${file} line 5)`)), JSON.stringify(problems));
    assert.ok(problems.some((p) => p.where === `${file} line 6` && /^duplicate id first: the same id as .* line 2/.test(p.message)), JSON.stringify(problems));
  });
});
