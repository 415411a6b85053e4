import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as T from '../index.js';
import { DTYPES } from '../dtype.js';

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function header(obj: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(obj));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json]);
}

test('state dict -> safetensors -> state dict is bit-exact for every dtype', () => {
  T.tidy(() => {
    T.manualSeed(1);
    const tensors = new Map<string, T.Tensor>();
    for (const dtype of DTYPES) {
      const base = T.randn([3, 5]).mul(100);
      tensors.set(`t.${dtype}`, dtype === 'bool' ? base.gt(0) : base.to(dtype));
    }
    tensors.set('scalar', T.tensor(3.25));
    tensors.set('empty', T.zeros([0, 4]));
    const path = join(dir, 'all.safetensors');
    T.saveSafetensors(path, tensors, { format: 'pt', note: 'test' });
    const file = T.SafetensorsFile.open(path);
    assert.deepEqual(file.metadata, { format: 'pt', note: 'test' });
    file.close();
    const back = T.loadSafetensors(path);
    assert.deepEqual([...back.keys()].sort(), [...tensors.keys()].sort());
    for (const [k, t] of tensors) {
      const b = back.get(k)!;
      assert.equal(b.dtype, t.dtype, k);
      assert.deepEqual(b.shape, t.shape, k);
      assert.ok(b.toBuffer().equals(t.toBuffer()), `${k} bytes differ`);
    }
    T.dispose(back);
  });
});

test('module state dicts round-trip through a file', () => {
  T.tidy(() => {
    const a = new T.nn.Sequential(new T.nn.Conv2d(2, 4, 3), new T.nn.BatchNorm2d(4));
    const b = new T.nn.Sequential(new T.nn.Conv2d(2, 4, 3), new T.nn.BatchNorm2d(4));
    const path = join(dir, 'module.safetensors');
    T.saveSafetensors(path, a.stateDict());
    const loaded = T.loadSafetensors(path);
    b.loadStateDict(loaded);
    T.dispose(loaded);
    for (const [k, t] of a.stateDict()) assert.ok(t.toBuffer().equals(b.stateDict().get(k)!.toBuffer()), k);
    a.dispose();
    b.dispose();
  });
});

test('the writer is atomic: no temporary file is left and a failed write keeps the old file', () => {
  const path = join(dir, 'atomic.safetensors');
  T.tidy(() => T.saveSafetensors(path, { x: T.ones([2]) }));
  const before = readFileSync(path);
  const disposed = T.ones([2]);
  disposed.dispose();
  assert.throws(() => T.saveSafetensors(path, { x: disposed }));
  assert.ok(readFileSync(path).equals(before));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

test('one tensor can be read without loading the others', () => {
  T.tidy(() => {
    const path = join(dir, 'lazy.safetensors');
    T.saveSafetensors(path, { a: T.ones([4]), b: T.zeros([1000]) });
    const file = T.SafetensorsFile.open(path);
    assert.deepEqual(file.tensors.get('b')!.shape, [1000]);
    assert.deepEqual(file.get('a').toNumbers(), [1, 1, 1, 1]);
    assert.throws(() => file.get('c'), /no tensor named 'c'/);
    file.close();
  });
});

test('corrupt files give clear errors, never a crash', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['short', Buffer.from([1, 2, 3]), /shorter than the 8-byte header length/],
    ['huge-header', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 40n); return b; })(), /exceeds/],
    ['truncated-header', header({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).subarray(0, 20), /runs past the end/],
    ['bad-json', Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{oops')]), /not valid JSON/],
    ['not-object', header([1, 2]), /not a JSON object/],
    ['unknown-dtype', Buffer.concat([header({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }), Buffer.alloc(1)]), /dtype "F8"/],
    ['bad-shape', Buffer.concat([header({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), Buffer.alloc(4)]), /invalid shape/],
    ['out-of-range', Buffer.concat([header({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }), Buffer.alloc(8)]), /ends at byte 16 of a 8-byte data section/],
    ['size-mismatch', Buffer.concat([header({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }), Buffer.alloc(8)]), /needs 12 bytes, its offsets span 8/],
    ['overlap', Buffer.concat([header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }), Buffer.alloc(8)]), /overlap/],
    ['bad-metadata', Buffer.concat([header({ __metadata__: { a: 1 } })]), /__metadata__ must map strings to strings/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, bytes);
    assert.throws(() => T.loadSafetensors(path), pattern, name);
  }
  assert.throws(() => T.loadSafetensors(join(dir, 'missing.safetensors')), /cannot open safetensors file .*ENOENT/);
  assert.equal(existsSync(join(dir, 'missing.safetensors')), false);
});
