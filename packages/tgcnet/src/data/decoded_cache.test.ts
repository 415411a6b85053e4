import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DecodedCache, loadedBytes } from './decoded_cache.js';
import { openDataset } from './detect.js';
import { type LoadedCase, Loader } from './loader.js';
import { writeSynthDataset } from './synth_dataset.js';
import type { CaseRecord } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-decoded-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function record(id: string, text = `prompt of ${id}.`): CaseRecord {
  return { id, split: 'train', image: { kind: 'file', path: `${id}.png` }, mask: null, text, aux: null };
}

function decoded(r: CaseRecord, side: number, fill: number): LoadedCase {
  return { record: r, cnn: new Uint8Array(side * side).fill(fill), vit: null, mask: null, original: { width: side, height: side, spacing: null, image: null, mask: null } };
}

const sizes = { cnnSize: 8, vitSize: null };

test('a case is decoded once per file and size; a hit carries the asking record', async () => {
  const cache = new DecodedCache(1 << 20);
  let decodes = 0;
  const decode = (r: CaseRecord) => async () => {
    decodes += 1;
    return decoded(r, 8, decodes);
  };
  const a = record('a');
  const first = await cache.get(a, sizes, decode(a));
  const again = await cache.get(a, sizes, decode(a));
  assert.equal(decodes, 1);
  assert.equal(again.cnn, first.cnn, 'the kept bytes, not a new decode');
  // The same file under another prompt (an aux attached, a paraphrase): same pixels, its own record.
  const reworded = record('a', 'another prompt.');
  const hit = await cache.get(reworded, sizes, decode(reworded));
  assert.equal(decodes, 1);
  assert.equal(hit.record, reworded);
  assert.equal(hit.cnn, first.cnn);
  // Another size is another entry.
  await cache.get(a, { cnnSize: 16, vitSize: null }, decode(a));
  assert.equal(decodes, 2);
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 2 * 64);
  assert.equal(cache.full, false);
});

test('past its budget the cache keeps nothing more and says so; what it kept stays', async () => {
  const cache = new DecodedCache(100);
  let decodes = 0;
  const get = (r: CaseRecord) =>
    cache.get(r, sizes, async () => {
      decodes += 1;
      return decoded(r, 8, 1);
    });
  await get(record('a'));
  await get(record('b'));
  assert.equal(cache.size, 1, '64 bytes fit in 100, 128 do not');
  assert.equal(cache.full, true);
  await get(record('a'));
  await get(record('b'));
  assert.equal(decodes, 3, 'a kept, b decoded each time');
  assert.throws(() => new DecodedCache(-1), /byte budget must be >= 0/);
  assert.equal(new DecodedCache(0).maxBytes, 0);
});

test('a failed decode is not kept: asked again, the file is read again', async () => {
  const cache = new DecodedCache(1 << 20);
  const a = record('a');
  await assert.rejects(cache.get(a, sizes, async () => Promise.reject(new Error('case a: image file missing'))), /image file missing/);
  assert.equal(cache.size, 0);
  const ok = await cache.get(a, sizes, async () => decoded(a, 8, 3));
  assert.equal(ok.cnn![0], 3);
  assert.equal(loadedBytes(ok), 64);
});

test('a loader with the cache gives every epoch the same bytes as one without, and decodes each case once', async () => {
  const data = join(dir, 'data');
  await writeSynthDataset({ out: data, n: 12, seed: 3, size: 48 });
  const ds = await openDataset(data);
  const cases = ds.cases.filter((c) => c.split === 'train');
  assert.ok(cases.length >= 6);
  const cache = new DecodedCache(1 << 24);
  const options = { batchSize: 4, shuffle: true, seed: 1, cnnSize: 32, vitSize: 24 };
  const plain = new Loader(cases, options);
  const cached = new Loader(cases, { ...options, cache });
  const firstRead = new Map<string, Uint8Array | null>();
  for (const epoch of [0, 1]) {
    const a: LoadedCase[] = [];
    const b: LoadedCase[] = [];
    for await (const batch of plain.epoch(epoch)) a.push(...batch.cases);
    for await (const batch of cached.epoch(epoch)) b.push(...batch.cases);
    // Epoch 2 hands out the very arrays epoch 1 decoded: nothing was decoded again.
    for (const c of b) {
      if (epoch === 0) firstRead.set(c.record.id, c.cnn);
      else assert.equal(c.cnn, firstRead.get(c.record.id), `${c.record.id} decoded again in epoch 2`);
    }
    assert.deepEqual(b.map((c) => c.record.id), a.map((c) => c.record.id));
    a.forEach((c, i) => {
      assert.deepEqual(b[i].cnn, c.cnn, `${c.record.id} cnn, epoch ${epoch}`);
      assert.deepEqual(b[i].vit, c.vit, `${c.record.id} vit, epoch ${epoch}`);
      assert.deepEqual(b[i].mask, c.mask, `${c.record.id} mask, epoch ${epoch}`);
    });
  }
  assert.equal(cache.size, cases.length);
  assert.equal(cache.bytes, cases.length * (32 * 32 * 2 + 24 * 24));
});
