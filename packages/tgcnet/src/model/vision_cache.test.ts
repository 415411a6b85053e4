import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { writeRandomClip } from '../clip/init.js';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { defaultBpePath } from '../paths.js';
import { train } from '../train/train.js';
import { buildConfig } from './config.js';
import { CPU_FP32 } from './execution.js';
import { TgcNet } from './tgcnet.js';
import { VisionFeatureCache, featureCacheUnusable } from './vision_cache.js';

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-vcache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function frozenTiny(seed = 0): TgcNet {
  T.manualSeed(seed);
  const model = new TgcNet(buildConfig('tiny', []));
  model.eval();
  return model;
}

const bitwiseEqual = (a: T.Tensor, b: T.Tensor) => a.shape.join() === b.shape.join() && a.toBuffer().equals(b.toBuffer());

test('the cache returns the tower’s own features, reads them the second time, and keys on weights and pixels', () => {
  const model = frozenTiny();
  const warnings: string[] = [];
  const root = join(dir, 'unit');
  const s = model.config.vitInput;
  // One forward first: the tower builds its packed attention weights lazily (kept buffers).
  T.tidy(() => model.visionFeatures(T.zeros([1, 3, s, s])));
  const live = T.liveTensorCount();
  T.tidy(() => {
    T.manualSeed(1);
    const x = T.randn([3, 3, s, s]);
    const cache = VisionFeatureCache.open(root, model, CPU_FP32, (m) => warnings.push(m));
    const direct = model.visionFeatures(x);
    const first = cache.features(model, x);
    assert.deepEqual(cache.takeStats(), { hits: 0, misses: 3, towerBatches: 1, written: 3, bytesWritten: 3 * bytesPerImage(direct) });
    const second = cache.features(model, x);
    const stats = cache.takeStats();
    assert.equal(stats.hits, 3);
    assert.equal(stats.towerBatches, 0, 'every image cached: the tower does not run');
    for (const out of [first, second]) {
      assert.equal(out.taps.length, direct.taps.length);
      out.taps.forEach((t, i) => assert.ok(bitwiseEqual(t, direct.taps[i]), `tap ${i}`));
      assert.ok(bitwiseEqual(out.dense, direct.dense), 'dense');
    }
    // A cached image beside a new one: the tower runs for the batch. (Its result for the cached
    // image may differ in the last bits: OpenBLAS picks other kernels for other matrix heights.)
    const pair = T.F.cat([x.narrow(0, 1, 1), T.randn([1, 3, s, s])]);
    const mixed = cache.features(model, pair);
    const m = cache.takeStats();
    assert.deepEqual([m.hits, m.misses, m.towerBatches, m.written], [0, 1, 1, 1], 'only the new image is written');
    assert.ok(mixed.dense.narrow(0, 0, 1).sub(direct.dense.narrow(0, 1, 1)).abs().max().item() < 1e-5);
    // A flipped image is another image.
    cache.features(model, T.aten.flip(x, [3]));
    assert.equal(cache.takeStats().misses, 3);
  });
  assert.equal(T.liveTensorCount(), live, 'no tensor outlives the scope');

  // Other weights: another folder, nothing read from the first one.
  const other = frozenTiny(7);
  const c1 = VisionFeatureCache.open(root, model, CPU_FP32, () => {});
  const c2 = VisionFeatureCache.open(root, other, CPU_FP32, () => {});
  const c3 = VisionFeatureCache.open(root, model, { device: 'cpu', precision: 'bf16' }, () => {});
  assert.equal(c1.dir, VisionFeatureCache.open(root, model, CPU_FP32, () => {}).dir, 'the same tower finds its folder again');
  assert.notEqual(c1.dir, c2.dir);
  assert.notEqual(c1.dir, c3.dir, 'precision is part of the key');
  const about = JSON.parse(readFileSync(join(c1.dir, 'tower.json'), 'utf8'));
  assert.deepEqual(about.taps, model.config.vitTaps);
  assert.equal(about.towerKey, c1.towerKey);
  T.tidy(() => {
    T.manualSeed(1);
    const x = T.randn([3, 3, s, s]);
    c2.features(other, x);
    assert.equal(c2.takeStats().misses, 3);
  });
  assert.deepEqual(warnings, []);
  model.dispose();
  other.dispose();
});

function bytesPerImage(f: { taps: T.Tensor[]; dense: T.Tensor }): number {
  return [...f.taps, f.dense].reduce((n, t) => n + (t.numel() / t.shape[0]) * 4, 0);
}

test('a damaged or foreign cache file is recomputed and rewritten, with one warning', () => {
  const model = frozenTiny();
  const warnings: string[] = [];
  const cache = VisionFeatureCache.open(join(dir, 'damaged'), model, CPU_FP32, (m) => warnings.push(m));
  const s = model.config.vitInput;
  T.tidy(() => {
    T.manualSeed(2);
    const x = T.randn([2, 3, s, s]);
    const direct = model.visionFeatures(x);
    cache.features(model, x);
    cache.takeStats();
    const files = readdirSync(cache.dir).filter((f) => f.endsWith('.safetensors'));
    assert.equal(files.length, 2);
    writeFileSync(join(cache.dir, files[0]), Buffer.from('not a safetensors file'));
    const again = cache.features(model, x);
    const stats = cache.takeStats();
    assert.deepEqual([stats.hits, stats.misses, stats.towerBatches, stats.written], [0, 1, 1, 1], 'the damaged file is replaced');
    assert.ok(bitwiseEqual(again.dense, direct.dense));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /feature cache .*safetensors.*computing it again/);
    cache.features(model, x);
    assert.equal(cache.takeStats().hits, 2, 'the rewritten file is read');
  });
  model.dispose();
});

test('the cache is refused where features change between epochs', () => {
  const frozen = frozenTiny();
  assert.equal(featureCacheUnusable(frozen, false), null);
  assert.equal(featureCacheUnusable(frozen, 'flip'), null);
  assert.match(featureCacheUnusable(frozen, true) ?? '', /augmentation moves pixels.*--no-augment/);
  frozen.dispose();
  const trained = new TgcNet(buildConfig('tiny', ['clipTrainable=true']));
  assert.match(featureCacheUnusable(trained, false) ?? '', /vision tower trains/);
  trained.dispose();
  const cnnOnly = new TgcNet(buildConfig('tiny', ['encoder=cnn-only']));
  assert.match(featureCacheUnusable(cnnOnly, false) ?? '', /no CLIP vision tower/);
  cnnOnly.dispose();
});

const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const data = join(dir, 'data');
const clip = join(dir, 'clip');
before(async () => {
  if (skip) return;
  await writeSynthDataset({ out: data, n: 24, seed: 3, size: 64 });
  writeRandomClip(clip, { preset: 'tiny', seed: 1, bpePath: defaultBpePath()! });
});

function weightBytes(run: string): Map<string, Buffer> {
  return T.tidy(() => {
    const w = T.loadSafetensors(join(run, 'last', 'model.safetensors'));
    const out = new Map([...w].map(([k, t]) => [k, t.toBuffer()]));
    T.dispose([...w.values()]);
    return out;
  });
}

function epochEntries(run: string): Record<string, unknown>[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.type === 'epoch');
}

test('training with a frozen CLIP: epoch 2 runs no ViT, and the weights equal a run without the cache', { skip }, async () => {
  // 12 training cases in batches of 4: every image is seen in epoch 1 (none left over by dropLast).
  const base = { data, clip, preset: 'tiny', epochs: 2, batch: 4, seed: 4, quiet: true, patience: 0, augment: false as const, limitTrain: 12 };
  const cached = join(dir, 'run-cached');
  const plain = join(dir, 'run-plain');
  await train({ ...base, out: cached });
  await train({ ...base, out: plain, featureCache: false });
  assert.ok(existsSync(join(cached, 'feature-cache')));
  assert.ok(!existsSync(join(plain, 'feature-cache')));
  const [e1, e2] = epochEntries(cached).map((e) => e.featureCache as { hits: number; misses: number; towerBatches: number; written: number });
  assert.equal(e1.hits, 0);
  assert.ok(e1.misses > 0 && e1.towerBatches > 0);
  assert.equal(e1.written, e1.misses);
  assert.deepEqual([e2.misses, e2.towerBatches, e2.written], [0, 0, 0], 'epoch 2 reads every image');
  assert.equal(e2.hits, e1.misses);
  assert.equal(epochEntries(plain)[0].featureCache, undefined);
  // Equal up to rounding: epoch 2 reads what epoch 1 computed in other batches, where the
  // uncached run computes again (bitwise equal on the machine this was written on, where every
  // batch has the same size; another BLAS may round a row differently at another position).
  const a = weightBytes(cached);
  const b = weightBytes(plain);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = 0;
  for (const [k, v] of a) {
    const x = new Float32Array(v.buffer, v.byteOffset, v.length / 4);
    const other = b.get(k)!;
    const y = new Float32Array(other.buffer, other.byteOffset, other.length / 4);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  assert.ok(worst < 1e-4, `the cached and the uncached run differ by ${worst}`);
  assert.deepEqual(
    epochEntries(cached).map((e) => e.liveTensors),
    epochEntries(plain).map((e) => e.liveTensors),
    'the cache keeps no tensors alive',
  );
  // A second run of the same tower, sharing the folder, computes nothing.
  const shared = join(dir, 'shared-cache');
  await train({ ...base, out: join(dir, 'run-s1'), featureCache: shared, epochs: 1 });
  await train({ ...base, out: join(dir, 'run-s2'), featureCache: shared, epochs: 1, seed: 9 });
  const s2 = epochEntries(join(dir, 'run-s2'))[0].featureCache as { misses: number; towerBatches: number };
  assert.deepEqual([s2.misses, s2.towerBatches], [0, 0]);
  // Augmentation that moves pixels: no cache, said once.
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await train({ ...base, quiet: false, out: join(dir, 'run-aug'), augment: true, featureCache: shared, epochs: 1, limitTrain: 4, limitVal: 2 });
  } finally {
    process.stderr.write = write;
  }
  assert.ok(lines.some((l) => /--feature-cache not used: augmentation moves pixels/.test(l)), lines.join(''));
});
