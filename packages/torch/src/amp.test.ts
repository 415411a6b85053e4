// Mixed precision: autocast lowers matmul-like ops through the dispatcher (CPU bfloat16 here;
// CUDA float16 on a GPU), keeps float32 ops in float32, restores its state; the gradient
// scaler skips steps whose gradients overflowed and grows the scale after clean ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

const { autocast, isAutocastEnabled, GradScaler } = T.amp;

test('autocast on the CPU runs linear and conv in bfloat16, softmax in float32, and restores the state', () => {
  T.tidy(() => {
    T.manualSeed(0);
    const x = T.randn([4, 8]);
    const w = T.randn([3, 8]);
    const image = T.randn([1, 2, 6, 6]);
    const kernel = T.randn([4, 2, 3, 3]);
    assert.equal(isAutocastEnabled('cpu'), false);
    const [lin, conv, soft, inside] = autocast('cpu', () => [T.F.linear(x, w), T.F.conv2d(image, kernel), T.F.softmax(x, 1), isAutocastEnabled('cpu')] as const);
    assert.equal(inside, true);
    assert.equal(isAutocastEnabled('cpu'), false);
    assert.equal(lin.dtype, 'bfloat16');
    assert.equal(conv.dtype, 'bfloat16');
    assert.equal(soft.dtype, 'float32');
    // The lowered product agrees with float32 to bfloat16's precision (8 bits of mantissa).
    const exact = T.F.linear(x, w);
    assert.equal(exact.dtype, 'float32');
    const err = lin.float().sub(exact).abs().max().item();
    assert.ok(err < 0.1 * exact.abs().max().item(), `bfloat16 linear off by ${err}`);
    // Disabled regions and throws leave it off.
    assert.equal(autocast('cpu', () => T.F.linear(x, w), { enabled: false }).dtype, 'float32');
    assert.throws(() => autocast('cpu', () => { throw new Error('inside'); }), /inside/);
    assert.equal(isAutocastEnabled('cpu'), false);
    assert.throws(() => autocast('cpu', () => 0, { dtype: 'float16' }), /bfloat16 only/);
  });
});

test('autocast: gradients reach float32 parameters in float32', () => {
  T.tidy(() => {
    T.manualSeed(1);
    const layer = new T.nn.Linear(8, 2);
    const loss = autocast('cpu', () => layer.forward(T.randn([5, 8])).float().pow(2).mean());
    loss.backward();
    assert.equal(layer.weight.dtype, 'float32');
    assert.equal(layer.weight.grad!.dtype, 'float32');
    assert.ok(Number.isFinite(layer.weight.grad!.abs().sum().item()));
    layer.dispose();
  });
});

test('GradScaler: an overflow skips the step and backs off; clean steps unscale and grow the scale', () => {
  T.tidy(() => {
    const p = T.tensor([1, 2], { requiresGrad: true });
    const opt = new T.optim.SGD([p], { lr: 0.1 });
    const scaler = new GradScaler({ initScale: 1024, growthInterval: 2 });
    // A clean step: gradients arrive scaled, the optimizer sees the true ones.
    scaler.scale(p.mul(T.tensor([3, 4])).sum()).backward();
    assert.deepEqual(Array.from(p.grad!.toArray() as Float32Array), [3 * 1024, 4 * 1024]);
    scaler.unscale_(opt);
    assert.deepEqual(Array.from(p.grad!.toArray() as Float32Array), [3, 4]);
    assert.equal(scaler.step(opt), true);
    scaler.update();
    assertClose(Array.from(p.toArray() as Float32Array), [1 - 0.3, 2 - 0.4]);
    assert.equal(scaler.scaleValue, 1024);
    // An overflow: no step, half the scale.
    opt.zeroGrad();
    scaler.scale(p.mul(T.tensor([Number.POSITIVE_INFINITY, 1])).sum()).backward();
    assert.equal(scaler.step(opt), false);
    scaler.update();
    assertClose(Array.from(p.toArray() as Float32Array), [0.7, 1.6]);
    assert.equal(scaler.scaleValue, 512);
    // Two clean steps in a row: the scale doubles.
    for (let i = 0; i < 2; i++) {
      opt.zeroGrad();
      scaler.scale(p.sum()).backward();
      assert.equal(scaler.step(opt), true);
      scaler.update();
    }
    assert.equal(scaler.scaleValue, 1024);
    assert.throws(() => {
      scaler.unscale_(opt);
      scaler.unscale_(opt);
    }, /already called/);
    const restored = new GradScaler();
    restored.loadStateDict(scaler.stateDict());
    assert.equal(restored.scaleValue, scaler.scaleValue);
    opt.dispose?.();
  });
});

function assertClose(actual: number[], expected: number[]): void {
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 1e-6, `${actual} vs ${expected}`));
}
