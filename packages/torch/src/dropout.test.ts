import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

const F = T.F;

test('dropout keeps each element with probability 1 - p and scales it by 1 / (1 - p)', () => {
  T.tidy(() => {
    T.manualSeed(11);
    const n = 1_000_000;
    for (const p of [0.1, 0.3, 0.5, 0.9]) {
      const y = F.dropout(T.ones([n]), p, true);
      const kept = y.ne(0).float();
      const keep = 1 - p;
      // Five standard deviations of a binomial proportion.
      const tolerance = 5 * Math.sqrt((keep * p) / n);
      assert.ok(Math.abs(kept.mean().item() - keep) < tolerance, `p=${p}: kept ${kept.mean().item()}`);
      const values = new Set(Array.from(y.toArray() as Float32Array));
      assert.deepEqual([...values].sort(), [0, Math.fround(1 / keep)].sort(), `p=${p}: values ${[...values]}`);
      // Neighbours are independent: both kept as often as keep^2 (a weak hash would correlate them).
      const both = kept.narrow(0, 0, n - 1).mul(kept.narrow(0, 1, n - 1)).mean().item();
      assert.ok(Math.abs(both - keep * keep) < 5 * Math.sqrt((keep * keep * (1 - keep * keep)) / n), `p=${p}: pairs kept ${both}`);
    }
  });
});

test('the mask is decided by manualSeed alone: equal for any thread count, new with each call and seed', () => {
  const before = T.getNumThreads();
  const draw = (seed: number, threads: number) =>
    T.tidy(() => {
      T.setNumThreads(threads);
      T.manualSeed(seed);
      const x = T.ones([300_000]);
      return [F.dropout(x, 0.4, true).toBuffer(), F.dropout(x, 0.4, true).toBuffer()];
    });
  try {
    const [a1, a2] = draw(5, 1);
    const [b1] = draw(5, 2);
    const [c1] = draw(6, 1);
    assert.ok(a1.equals(b1), 'one and two threads draw the same mask');
    assert.ok(!a1.equals(a2), 'a second call draws a new mask');
    assert.ok(!a1.equals(c1), 'another seed draws another mask');
  } finally {
    T.setNumThreads(before);
  }
});

test('dropout: gradient is the mask, other dtypes work, eval and p = 0 are the identity, nothing leaks', () => {
  const live = T.liveTensorCount();
  T.tidy(() => {
    T.manualSeed(2);
    const x = T.randn([4, 257]).requiresGrad_();
    const y = F.dropout(x, 0.25, true);
    y.sum().backward();
    const mask = y.div(x.detach());
    assert.ok(x.grad!.sub(mask).abs().max().item() < 1e-6);
    for (const dtype of ['float64', 'bfloat16', 'float16'] as const) {
      const z = F.dropout(T.ones([1000], { dtype }), 0.5, true);
      assert.equal(z.dtype, dtype);
      const kept = z.ne(0).float().mean().item();
      assert.ok(kept > 0.4 && kept < 0.6, `${dtype}: ${kept}`);
    }
    const v = T.randn([10]);
    assert.ok(F.dropout(v, 0.5, false).toBuffer().equals(v.toBuffer()));
    assert.ok(F.dropout(v, 0, true).toBuffer().equals(v.toBuffer()));
    assert.equal(F.dropout(v, 1, true).abs().sum().item(), 0);
    // A non-contiguous input gets a mask of its shape.
    const t = T.randn([6, 5]).transpose(0, 1);
    assert.deepEqual(F.dropout(t, 0.5, true).shape, [5, 6]);
  });
  assert.equal(T.liveTensorCount(), live);
});
