import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

const { F, tidy, gradcheck } = T;

function leaf(shape: number[], scale = 1): T.Tensor {
  return T.randn(shape, { dtype: 'float64' }).mul(scale).requiresGrad_();
}

test('backward fills .grad; noGrad records nothing', () => {
  tidy(() => {
    const x = T.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.toNumbers(), [2, 4, 6]);
    const y = T.noGrad(() => x.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.equal(T.isGradEnabled(), true);
    assert.throws(() => x.mul(2).backward(), /implicitly created only for scalar outputs/);
    const z = x.mul(2);
    z.backward(T.onesLike(z));
    assert.deepEqual(x.grad!.toNumbers(), [4, 6, 8]);
    x.grad = null;
    assert.equal(x.grad, null);
  });
});

test('detach cuts the graph', () => {
  tidy(() => {
    const x = leaf([3]);
    assert.equal(x.mul(2).detach().requiresGrad, false);
  });
});

const cases: [string, () => void][] = [
  ['linear', () => gradcheck((x, w, b) => F.linear(x, w, b), [leaf([3, 4]), leaf([2, 4]), leaf([2])])],
  ['conv2d (stride, padding, groups)', () =>
    gradcheck((x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }), [leaf([1, 4, 5, 5]), leaf([2, 2, 3, 3]), leaf([2])])],
  ['conv_transpose2d', () =>
    gradcheck((x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }), [leaf([1, 2, 3, 3]), leaf([2, 3, 3, 3])])],
  ['layer_norm', () => gradcheck((x, w, b) => F.layerNorm(x, [5], w, b), [leaf([2, 5]), leaf([5]), leaf([5])])],
  ['group_norm', () => gradcheck((x, w, b) => F.groupNorm(x, 2, w, b), [leaf([2, 4, 2, 2]), leaf([4]), leaf([4])])],
  ['attention (matmul + softmax)', () =>
    gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v), [leaf([1, 2, 4, 3]), leaf([1, 2, 5, 3]), leaf([1, 2, 5, 3])])],
  ['grid_sample bilinear', () =>
    gradcheck((x, g) => F.gridSample(x, g, { alignCorners: false }), [leaf([1, 2, 4, 4]), T.rand([1, 3, 3, 2], { dtype: 'float64' }).mul(1.6).sub(0.8).requiresGrad_()])],
  ['interpolate bilinear', () => gradcheck((x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear' }), [leaf([1, 2, 3, 4])])],
  ['interpolate bicubic', () => gradcheck((x) => F.interpolate(x, { scaleFactor: 2, mode: 'bicubic', alignCorners: true }), [leaf([1, 1, 3, 3])])],
  ['cosine similarity', () => gradcheck((a, b) => F.cosineSimilarity(a, b, 1), [leaf([3, 4]), leaf([3, 4])])],
  ['binary cross entropy with logits', () => {
    const target = T.rand([2, 3], { dtype: 'float64' }).gt(0.5).double();
    const posWeight = T.tensor([0.5, 2, 3], { dtype: 'float64' });
    gradcheck((x) => F.binaryCrossEntropyWithLogits(x, target, { posWeight }), [leaf([2, 3])]);
  }],
  ['cross entropy', () => gradcheck((x) => F.crossEntropy(x, T.tensor([0, 2, 1], { dtype: 'int64' })), [leaf([3, 4])])],
  ['mse loss', () => gradcheck((x, y) => F.mseLoss(x, y), [leaf([4]), leaf([4])])],
  ['gelu and quick_gelu', () => gradcheck((x) => F.gelu(x).add(F.quickGelu(x)), [leaf([6])])],
  ['softmax and log_softmax', () => gradcheck((x) => F.softmax(x, 1).add(F.logSoftmax(x, 0)), [leaf([3, 4])])],
];

for (const [name, run] of cases) {
  test(`gradcheck: ${name}`, () => {
    T.manualSeed(7);
    const start = T.memory().tensors;
    tidy(run);
    assert.equal(T.memory().tensors, start, 'gradcheck leaks no tensors');
  });
}

test('gradcheck catches a wrong gradient', () => {
  tidy(() => {
    // The value depends on x only through detached paths: autograd says 0, the differences say 3.
    const broken = (x: T.Tensor) => x.sub(x.detach()).mul(0).add(x.detach().mul(3));
    assert.throws(() => gradcheck(broken, [leaf([3])]), /gradcheck failed/);
  });
});
