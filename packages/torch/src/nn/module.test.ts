import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '../index.js';

const { nn } = T;

class Block extends nn.Module {
  readonly norm = this.registerModule('norm', new nn.LayerNorm(4));
  readonly layers = this.registerModule('layers', new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 2, { bias: false })]));
  readonly scale = this.registerParameter('scale', T.ones([1]));
  readonly ids = this.registerBuffer('position_ids', T.arange(4));

  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => this.layers.at(1).forward(this.layers.at(0).forward(this.norm.forward(x))).mul(this.scale));
  }
}

test('parameters are named by registration path, as state-dict keys', () => {
  const b = new Block();
  assert.deepEqual([...b.namedParameters()].map(([k]) => k), [
    'scale', 'norm.weight', 'norm.bias', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight',
  ]);
  assert.deepEqual([...b.stateDict().keys()].slice(-1), ['position_ids']);
  assert.equal(b.numParameters(), 1 + 8 + 20 + 8);
  b.dispose();
});

test('freeze, train/eval propagate to children', () => {
  const b = new Block();
  b.layers.at(0).freeze();
  assert.equal(b.numParameters({ trainableOnly: true }), 1 + 8 + 8);
  b.eval();
  assert.equal(b.layers.at(1).training, false);
  b.train();
  assert.equal(b.norm.training, true);
  b.dispose();
});

test('loadStateDict lists missing, unexpected and mismatched keys and changes nothing', () => {
  T.tidy(() => {
    const a = new Block();
    const before = a.layers.at(0).weight.toNumbers();
    const state = new Map(a.stateDict());
    state.delete('scale');
    state.set('extra.weight', T.zeros([1]));
    state.set('layers.0.weight', T.zeros([3, 3]));
    assert.throws(
      () => a.loadStateDict(state),
      (err: Error) =>
        err instanceof nn.StateDictError &&
        /missing keys \(1\): scale/.test(err.message) &&
        /unexpected keys \(1\): extra.weight/.test(err.message) &&
        /shape mismatch for layers.0.weight: the model has \[4, 4\], the checkpoint \[3, 3\]/.test(err.message),
    );
    assert.deepEqual(a.layers.at(0).weight.toNumbers(), before);
    state.set('layers.0.weight', T.zeros([4, 4]));
    const r = a.loadStateDict(state, { strict: false });
    assert.deepEqual(r.missing, ['scale']);
    assert.deepEqual(r.unexpected, ['extra.weight']);
    assert.deepEqual(a.layers.at(0).weight.toNumbers(), new Array(16).fill(0));
    a.dispose();
  });
});

test('registering a name twice or a dotted name fails', () => {
  class Bad extends nn.Module {
    constructor(name: string) {
      super();
      this.registerParameter('w', T.zeros([1]));
      this.registerParameter(name, T.zeros([1]));
    }
  }
  assert.throws(() => new Bad('w'), /'w' is already registered/);
  assert.throws(() => new Bad('a.b'), /contain no '\.'/);
});

test('module.to casts parameters in place, keeping handles', () => {
  const lin = new nn.Linear(3, 2);
  const w = lin.weight;
  lin.to('float64');
  assert.equal(w.dtype, 'float64');
  assert.equal(lin.weight, w);
  assert.equal(w.requiresGrad, true);
  lin.dispose();
});

test('layers produce PyTorch shapes', () => {
  T.tidy(() => {
    const x = T.randn([2, 3, 8, 8]);
    assert.deepEqual(new nn.Conv2d(3, 6, 3, { stride: 2, padding: 1 }).forward(x).shape, [2, 6, 4, 4]);
    assert.deepEqual(new nn.ConvTranspose2d(3, 5, 2, { stride: 2 }).forward(x).shape, [2, 5, 16, 16]);
    assert.deepEqual(new nn.GroupNorm(3, 3).forward(x).shape, [2, 3, 8, 8]);
    assert.deepEqual(new nn.BatchNorm2d(3).forward(x).shape, [2, 3, 8, 8]);
    assert.deepEqual(new nn.Embedding(10, 4).forward(T.tensor([[1, 2]], { dtype: 'int64' })).shape, [1, 2, 4]);
    const mha = new nn.MultiheadAttention(8, 2);
    const q = T.randn([5, 2, 8]);
    const [o, w] = mha.forward(q, q, q);
    assert.deepEqual([o.shape, w!.shape], [[5, 2, 8], [2, 5, 5]]);
    assert.throws(() => new nn.MultiheadAttention(10, 3), /embed_dim 10 must be divisible by num_heads 3/);
    assert.throws(() => new nn.Conv2d(3, 4, 3).forward(T.zeros([1, 2, 5, 5])), /expected 3 input channels/);
  });
});

test('dropout is active in train mode only', () => {
  T.tidy(() => {
    const d = new nn.Dropout(0.5);
    const x = T.ones([1000]);
    assert.ok(d.forward(x).eq(0).sum().item() > 300);
    d.eval();
    assert.equal(d.forward(x).eq(0).sum().item(), 0);
  });
});

test('initialisers follow PyTorch: fan computation, bounds, truncation', () => {
  T.tidy(() => {
    const w = T.empty([64, 32, 3, 3]);
    assert.deepEqual(nn.init.calculateFans(w), [288, 576]);
    nn.init.kaimingUniform_(w, { a: Math.sqrt(5) });
    const bound = 1 / Math.sqrt(288);
    assert.ok(w.abs().max().item() <= bound + 1e-7);
    nn.init.truncNormal_(w, 0, 1, -0.5, 0.5);
    assert.ok(w.abs().max().item() <= 0.5);
    nn.init.xavierUniform_(w);
    assert.ok(w.abs().max().item() <= Math.sqrt(6 / (288 + 576)) + 1e-7);
  });
});
