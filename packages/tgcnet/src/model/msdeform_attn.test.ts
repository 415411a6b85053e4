import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { MsDeformAttn, encoderReferencePoints, msDeformAttnCore } from './msdeform_attn.js';

/**
 * The obviously correct version: for every batch, query, head, level and point, sample
 * the value map bilinearly at (x W - 0.5, y H - 0.5) with zeros outside, weight, sum.
 */
function slowCore(value: number[][][][], shapes: [number, number][], loc: number[][][][][][], w: number[][][][][]): number[][][] {
  const B = loc.length;
  const Lq = loc[0].length;
  const heads = loc[0][0].length;
  const D = value[0][0][0].length;
  const starts = shapes.map((_, l) => shapes.slice(0, l).reduce((s, [h, ww]) => s + h * ww, 0));
  const out: number[][][] = [];
  for (let b = 0; b < B; b++) {
    out.push([]);
    for (let q = 0; q < Lq; q++) {
      const row = new Array(heads * D).fill(0);
      for (let h = 0; h < heads; h++) {
        shapes.forEach(([H, W], l) => {
          const at = (y: number, x: number, d: number) => (y < 0 || y >= H || x < 0 || x >= W ? 0 : value[b][starts[l] + y * W + x][h][d]);
          loc[b][q][h][l].forEach(([x, y], p) => {
            const px = x * W - 0.5;
            const py = y * H - 0.5;
            const x0 = Math.floor(px);
            const y0 = Math.floor(py);
            const fx = px - x0;
            const fy = py - y0;
            for (let d = 0; d < D; d++) {
              const s =
                at(y0, x0, d) * (1 - fx) * (1 - fy) + at(y0, x0 + 1, d) * fx * (1 - fy) + at(y0 + 1, x0, d) * (1 - fx) * fy + at(y0 + 1, x0 + 1, d) * fx * fy;
              row[h * D + d] += w[b][q][h][l][p] * s;
            }
          });
        });
      }
      out[b].push(row);
    }
  }
  return out;
}

function nested(t: T.Tensor): any {
  const flat = t.toNumbers();
  const build = (dims: readonly number[], offset: number): any => {
    if (dims.length === 0) return flat[offset];
    const stride = dims.slice(1).reduce((a, b) => a * b, 1);
    return Array.from({ length: dims[0] }, (_, i) => build(dims.slice(1), offset + i * stride));
  };
  return build(t.shape, 0);
}

test('deformable attention core equals the per-point loop (locations inside and outside the maps)', () => {
  T.tidy(() => {
    T.manualSeed(0);
    const shapes: [number, number][] = [[4, 5], [2, 3], [1, 2]];
    const total = 4 * 5 + 2 * 3 + 1 * 2;
    const [B, Lq, heads, D, levels, points] = [2, 3, 2, 3, 3, 2];
    const value = T.randn([B, total, heads, D], { dtype: 'float64' });
    const loc = T.rand([B, Lq, heads, levels, points, 2], { dtype: 'float64' }).mul(1.4).sub(0.2);
    const w = T.F.softmax(T.randn([B, Lq, heads, levels * points], { dtype: 'float64' }), -1).reshape(B, Lq, heads, levels, points);
    const fast = msDeformAttnCore(value, shapes, loc, w).toNumbers();
    const slow = slowCore(nested(value), shapes, nested(loc), nested(w)).flat(2);
    assert.equal(fast.length, slow.length);
    const err = Math.max(...fast.map((v, i) => Math.abs(v - slow[i])));
    assert.ok(err < 1e-12, `max |fast - slow| = ${err}`);
  });
});

test('deformable attention module passes a finite-difference gradient check', () => {
  T.tidy(() => {
    T.manualSeed(1);
    const attn = new MsDeformAttn({ dModel: 4, levels: 2, heads: 2, points: 2 });
    attn.to('float64');
    // Random (not the zero init) offsets and weights, so the check exercises them.
    T.noGrad(() => {
      for (const p of attn.parameters()) p.copy_(T.randn(p.shape as number[], { dtype: 'float64' }).mul(0.3));
    });
    const shapes: [number, number][] = [[3, 3], [2, 2]];
    const input = T.randn([1, 13, 4], { dtype: 'float64' }).requiresGrad_();
    const query = T.randn([1, 13, 4], { dtype: 'float64' }).requiresGrad_();
    const ref = encoderReferencePoints(shapes, 'float64');
    T.gradcheck((q, x) => attn.forward(q, ref, x, shapes), [query, input], { atol: 1e-6, rtol: 1e-4 });
    for (const [name, p] of attn.namedParameters()) {
      const g = p.grad;
      assert.ok(g !== null, `${name} gets a gradient`);
    }
    attn.dispose();
  });
});

test('reference points sit at pixel centres; initial offsets lie on a circle per head', () => {
  T.tidy(() => {
    const ref = encoderReferencePoints([[2, 2]]);
    assert.deepEqual(ref.reshape(-1).toNumbers(), [0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75]);
    const attn = new MsDeformAttn({ dModel: 8, levels: 1, heads: 4, points: 2 });
    const b = attn.sampling_offsets.bias!.toNumbers();
    // head 0 points right, head 1 down: (1,0),(2,0) then (0,1),(0,2) after rounding cos/sin.
    assert.deepEqual(b.slice(0, 4), [1, 0, 2, 0]);
    assert.ok(Math.abs(b[4]) < 1e-6 && b[5] === 1);
    assert.throws(() => new MsDeformAttn({ dModel: 6, levels: 1, heads: 4, points: 1 }), /d_model 6 must be divisible by n_heads 4/);
    attn.dispose();
  });
});
