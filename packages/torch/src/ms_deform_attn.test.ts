import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

const { F } = T;

/** The reference: grid_sample per level, then the weighted sum (what msDeformAttn fuses). */
function viaGridSample(value: T.Tensor, shapes: readonly (readonly [number, number])[], loc: T.Tensor, w: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const [B, , heads, D] = value.shape;
    const [, Q, , levels, points] = loc.shape;
    const perLevel = value.split(shapes.map(([h, ww]) => h * ww), 1);
    const sampled = shapes.map(([h, ww], l) =>
      F.gridSample(perLevel[l].flatten(2).transpose(1, 2).reshape(B * heads, D, h, ww), loc.select(3, l).mul(2).sub(1).transpose(1, 2).flatten(0, 1), {
        alignCorners: false,
      }),
    );
    const stacked = F.stack(sampled, -2).flatten(-2);
    return stacked.mul(w.transpose(1, 2).reshape(B * heads, 1, Q, levels * points)).sum(-1).reshape(B, heads * D, Q).transpose(1, 2);
  });
}

function inputs(shapes: [number, number][], [B, Q, heads, D, points]: number[], spread = 1.4) {
  const S = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const L = shapes.length;
  const value = T.randn([B, S, heads, D], { dtype: 'float64' });
  // Some points fall outside [0, 1]: zero padding must match.
  const loc = T.rand([B, Q, heads, L, points, 2], { dtype: 'float64' }).mul(spread).sub((spread - 1) / 2);
  const w = F.softmax(T.randn([B, Q, heads, L * points], { dtype: 'float64' }), -1).reshape(B, Q, heads, L, points);
  return { value, loc, w };
}

test('fused msDeformAttn equals the grid_sample path (float64, 1e-10): several levels, odd sizes, one level, points outside', () => {
  T.tidy(() => {
    T.manualSeed(0);
    for (const [shapes, dims] of [
      [[[5, 7], [3, 4], [1, 2]], [2, 6, 2, 3, 4]],
      [[[4, 4]], [1, 5, 1, 2, 1]],
      [[[1, 1], [2, 3]], [1, 3, 3, 1, 2]],
    ] as [[number, number][], number[]][]) {
      const { value, loc, w } = inputs(shapes, dims, 1.8);
      const err = F.msDeformAttn(value, shapes, loc, w).sub(viaGridSample(value, shapes, loc, w)).abs().max().item();
      assert.ok(err < 1e-10, `${JSON.stringify(shapes)}: max error ${err}`);
    }
    // float32 as well, to float precision.
    const { value, loc, w } = inputs([[6, 5], [3, 3]], [2, 4, 2, 4, 3]);
    const [v32, l32, w32] = [value.float(), loc.float(), w.float()];
    assert.ok(F.msDeformAttn(v32, [[6, 5], [3, 3]], l32, w32).sub(viaGridSample(v32, [[6, 5], [3, 3]], l32, w32)).abs().max().item() < 1e-5);
  });
});

test('fused msDeformAttn passes a finite-difference gradient check for value, locations and weights', () => {
  T.tidy(() => {
    T.manualSeed(1);
    const shapes: [number, number][] = [[3, 4], [2, 2]];
    const { value, loc, w } = inputs(shapes, [1, 3, 2, 2, 2], 1.3);
    // Keep locations off the pixel grid's kinks (bilinear is not differentiable across them).
    const leaves = [value, loc, w].map((t) => t.detach().requiresGrad_());
    T.gradcheck((v, l, ww) => F.msDeformAttn(v, shapes, l, ww), leaves, { atol: 1e-6, rtol: 1e-4 });
    // And the gradients equal the grid_sample path's.
    const grads = (fn: typeof F.msDeformAttn) =>
      T.tidy(() => {
        for (const x of leaves) x.grad = null;
        fn(leaves[0], shapes, leaves[1], leaves[2]).square().sum().backward();
        return leaves.map((x) => x.grad!.clone());
      });
    const fused = grads(F.msDeformAttn);
    const reference = grads(viaGridSample);
    fused.forEach((g, i) => assert.ok(g.sub(reference[i]).abs().max().item() < 1e-10, `gradient ${i}`));
  });
});

test('msDeformAttn refuses mismatched shapes with a message', () => {
  T.tidy(() => {
    const { value, loc, w } = inputs([[2, 2]], [1, 2, 1, 2, 1]);
    assert.throws(() => F.msDeformAttn(value, [[3, 3]], loc, w), /levels' H\*W sum to 9 but value has 4 positions/);
    assert.throws(() => F.msDeformAttn(value, [[2, 2]], loc.float(), w), /share a dtype/);
  });
});

test('msDeformAttn computes the same bits at one and two threads (each output and value gradient has one owner)', () => {
  const before = T.getNumThreads();
  const run = (threads: number) =>
    T.tidy(() => {
      T.setNumThreads(threads);
      T.manualSeed(4);
      const shapes: [number, number][] = [[24, 24], [12, 12], [6, 6]];
      const S = shapes.reduce((s, [h, w]) => s + h * w, 0);
      const value = T.randn([2, S, 4, 16]).requiresGrad_();
      const loc = T.rand([2, 300, 4, 3, 4, 2]).mul(1.2).sub(0.1).requiresGrad_();
      const w = F.softmax(T.randn([2, 300, 4, 12]), -1).reshape(2, 300, 4, 3, 4).detach().requiresGrad_();
      const out = F.msDeformAttn(value, shapes, loc, w);
      out.square().sum().backward();
      return [out, value.grad!, loc.grad!, w.grad!].map((t) => t.toBuffer());
    });
  try {
    const one = run(1);
    const two = run(2);
    one.forEach((b, i) => assert.ok(b.equals(two[i]), `output/gradient ${i} differs between one and two threads`));
  } finally {
    T.setNumThreads(before);
  }
});
