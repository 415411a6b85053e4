import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';
import { DTYPES } from './dtype.js';

const { tensor, tidy } = T;

test('creation infers shape and keeps values for every dtype', () => {
  tidy(() => {
    for (const dtype of DTYPES) {
      const t = tensor([[1, 0], [2, 3]], { dtype });
      assert.deepEqual(t.shape, [2, 2]);
      assert.equal(t.dtype, dtype);
      const expected = dtype === 'bool' ? [1, 0, 1, 1] : [1, 0, 2, 3];
      assert.deepEqual(t.toNumbers(), expected, dtype);
    }
  });
});

test('typed arrays keep their dtype; toArray returns a copy', () => {
  tidy(() => {
    const src = new Int32Array([5, 6, 7]);
    const t = tensor(src);
    assert.equal(t.dtype, 'int32');
    const out = t.toArray() as Int32Array;
    out[0] = 99;
    assert.deepEqual(t.toNumbers(), [5, 6, 7]);
  });
});

test('dataView aliases the tensor memory (zero-copy) and is null for strided views', () => {
  tidy(() => {
    const t = T.zeros([2, 3]);
    const view = t.dataView() as Float32Array;
    view[4] = 7;
    assert.equal(t.sum().item(), 7);
    assert.equal(t.t().dataView(), null);
  });
});

test('arithmetic, broadcasting, scalars and integer promotion follow PyTorch', () => {
  tidy(() => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([10, 20]);
    assert.deepEqual(a.add(b).toNumbers(), [11, 22, 13, 24]);
    assert.deepEqual(a.mul(2).sub(1).toNumbers(), [1, 3, 5, 7]);
    assert.deepEqual(a.div(b).toNumbers(), [0.1, 0.1, 0.3, 0.2].map((x) => Math.fround(x)));
    assert.deepEqual(a.pow(2).toNumbers(), [1, 4, 9, 16]);
    assert.deepEqual(a.matmul(a).toNumbers(), [7, 10, 15, 22]);
    const i = T.arange(4);
    assert.equal(i.dtype, 'int64');
    assert.equal(i.add(1).dtype, 'int64', 'int + integral scalar stays int');
    assert.equal(i.mul(0.5).dtype, 'float32', 'int * fractional scalar promotes');
    assert.equal(a.sum().item(), 10);
    assert.deepEqual(a.sum(0).toNumbers(), [4, 6]);
    assert.deepEqual(a.mean(1, true).shape, [2, 1]);
    assert.deepEqual(a.argmax(1).toNumbers(), [1, 1]);
    assert.deepEqual(a.gt(2).toNumbers(), [0, 0, 1, 1]);
  });
});

test('views and shape ops', () => {
  tidy(() => {
    const x = T.arange(24).reshape(2, 3, 4);
    assert.deepEqual(x.permute(2, 0, 1).shape, [4, 2, 3]);
    assert.deepEqual(x.transpose(0, 2).shape, [4, 3, 2]);
    assert.deepEqual(x.flatten(1).shape, [2, 12]);
    assert.deepEqual(x.unsqueeze(0).squeeze(0).shape, [2, 3, 4]);
    assert.deepEqual(x.slice(2, 1, 3).toNumbers().slice(0, 4), [1, 2, 5, 6]);
    assert.deepEqual(x.select(0, 1).shape, [3, 4]);
    assert.deepEqual(x.narrow(1, 1, 2).shape, [2, 2, 4]);
    const [p, q] = x.chunk(2, 2);
    assert.deepEqual([p.shape, q.shape], [[2, 3, 2], [2, 3, 2]]);
    assert.deepEqual(x.split([1, 3], 2).map((t) => t.shape[2]), [1, 3]);
    assert.deepEqual(T.F.cat([x, x], 1).shape, [2, 6, 4]);
    assert.deepEqual(T.F.stack([x, x]).shape, [2, 2, 3, 4]);
    const idx = tensor([2, 0], { dtype: 'int64' });
    assert.deepEqual(T.F.indexSelect(x, 1, idx).select(0, 0).toNumbers(), [8, 9, 10, 11, 0, 1, 2, 3]);
    assert.deepEqual(x.index([null, idx]).shape, [2, 2, 4]);
    assert.deepEqual(T.F.gather(tensor([[1, 2], [3, 4]]), 1, tensor([[1, 0], [0, 0]], { dtype: 'int64' })).toNumbers(), [2, 1, 3, 3]);
    const [vals, inds] = T.F.topk(tensor([3, 1, 4, 1, 5]), 2);
    assert.deepEqual([vals.toNumbers(), inds.toNumbers()], [[5, 4], [4, 2]]);
    assert.deepEqual(T.F.where(tensor([1, 0], { dtype: 'bool' }), tensor([1, 2]), tensor([8, 9])).toNumbers(), [1, 9]);
    assert.deepEqual(T.F.einsum('ij,jk->ik', tensor([[1, 2]]), tensor([[3], [4]])).toNumbers(), [11]);
  });
});

test('float16 and bfloat16 round-trip through float32', () => {
  tidy(() => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const t = tensor([1.5, -2, 0.25], { dtype });
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.toNumbers(), [1.5, -2, 0.25]);
      assert.equal(t.toBuffer().length, 6);
    }
  });
});

test('errors name the op and the shapes, never crash the process', () => {
  tidy(() => {
    assert.throws(() => T.aten.mm(T.zeros([2, 5]), T.zeros([3, 3])), /aten::mm: .*2x5 and 3x3.*inputs: self=\[2, 5\] Float, mat2=\[3, 3\] Float/);
    assert.throws(() => T.F.conv2d(T.zeros([1, 3, 8, 8]), T.zeros([4, 2, 3, 3])), /aten::conv2d.*expected input\[1, 3, 8, 8\] to have 2 channels/);
    assert.throws(() => T.zeros([2]).add(T.zeros([3])), /aten::add.*size of tensor a \(2\) must match the size of tensor b \(3\)/);
    assert.throws(() => T.F.interpolate(T.zeros([4, 4]), { size: 8 }), /interpolate: expected a 4D input, got shape \[4, 4\]/);
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => tensor([1, 2, 3], { shape: [2, 2] }), /holds 4 elements, data has 3/);
    assert.throws(() => T.F.embedding(T.zeros([2]), T.zeros([4, 3])), /aten::embedding.*Long, Int/);
    assert.throws(() => T.zeros([2], { dtype: 'complex' as never }), /unknown dtype 'complex'/);
    assert.throws(() => T.aten.reshape(T.zeros([6]), [4, 2]), /aten::reshape: shape '\[4, 2\]' is invalid for input of size 6/);
  });
});

test('a disposed tensor refuses use with an explanation', () => {
  const t = T.zeros([2]);
  t.dispose();
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.throws(() => t.add(1), /tensor was disposed/);
  assert.equal(t.toString(), 'Tensor(disposed)');
});

test('manualSeed makes random tensors reproducible', () => {
  tidy(() => {
    T.manualSeed(123);
    const a = T.randn([5]).toNumbers();
    T.manualSeed(123);
    const b = T.randn([5]).toNumbers();
    assert.deepEqual(a, b);
  });
});

test('thread count defaults to every core and can be changed', async () => {
  const { availableParallelism } = await import('node:os');
  const before = T.getNumThreads();
  if (process.env.OMP_NUM_THREADS === undefined) assert.equal(before, availableParallelism());
  T.setNumThreads(1);
  assert.equal(T.getNumThreads(), 1);
  T.setNumThreads(before);
  assert.throws(() => T.setNumThreads(0), /at least 1 thread/);
});

test('device moves: cpu is a no-op copy; cuda reports availability honestly', () => {
  tidy(() => {
    const x = T.ones([2]);
    assert.equal(x.to('cpu').device, 'cpu');
    assert.equal(typeof T.cuda.isAvailable(), 'boolean');
    if (!T.cuda.isAvailable()) {
      assert.throws(() => x.cuda(), /aten::to/);
    } else {
      const y = x.cuda();
      assert.equal(y.device, 'cuda:0');
      assert.deepEqual(y.cpu().toNumbers(), [1, 1]);
    }
  });
});
