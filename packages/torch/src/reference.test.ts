// Compares @tgcnet/torch against values computed by PyTorch itself (torch 1.13), stored in
// test/fixtures/reference.safetensors by scripts/make-reference-fixtures.py. Each case
// rebuilds the computation with our API (modules get PyTorch's state dict through
// loadStateDict) and checks it, in float64, to 1e-10 unless a comment says otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as T from './index.js';

const { F, nn, optim } = T;

// dist/reference.test.js -> package root -> test/fixtures/reference.safetensors
const FIXTURE = fileURLToPath(new URL('../test/fixtures/reference.safetensors', import.meta.url));
const TOL = 1e-10;

const START_TENSORS = T.memory().tensors;
// Loaded outside any tidy scope: these handles are ours until the last test disposes them.
const fixtures = T.loadSafetensors(FIXTURE);

function fx(name: string): T.Tensor {
  const t = fixtures.get(name);
  if (t === undefined) throw new Error(`fixture has no tensor '${name}' (regenerate it with scripts/make-reference-fixtures.py)`);
  return t;
}

/** The PyTorch state dict stored under `<prefix>.state.`, keyed as PyTorch names it. */
function stateOf(prefix: string): Map<string, T.Tensor> {
  const head = `${prefix}.state.`;
  const out = new Map<string, T.Tensor>();
  for (const [k, t] of fixtures) if (k.startsWith(head)) out.set(k.slice(head.length), t);
  assert.ok(out.size > 0, `no state dict under ${head}`);
  return out;
}

/** Max |actual - expected| <= tol, same shape and dtype, NaNs in the same places. */
function assertClose(actual: T.Tensor, expected: T.Tensor | string, label: string, tol = TOL): void {
  const exp = typeof expected === 'string' ? fx(expected) : expected;
  assert.deepEqual(actual.shape, exp.shape, `${label}: shape [${actual.shape}] vs PyTorch's [${exp.shape}]`);
  assert.equal(actual.dtype, exp.dtype, `${label}: dtype ${actual.dtype} vs PyTorch's ${exp.dtype}`);
  const a = actual.toNumbers();
  const e = exp.toNumbers();
  let worst = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    if (Number.isNaN(e[i]) || Number.isNaN(a[i])) {
      assert.ok(Number.isNaN(e[i]) && Number.isNaN(a[i]), `${label}[${i}]: ${a[i]} vs PyTorch's ${e[i]}`);
      continue;
    }
    const d = e[i] === a[i] ? 0 : Math.abs(a[i] - e[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${label}: max abs diff ${worst} > ${tol} at flat index ${at} (ours ${a[at]}, PyTorch ${e[at]})`);
}

function assertNear(actual: number, expected: number, label: string, tol = TOL): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${label}: ${actual} vs expected ${expected} (diff ${Math.abs(actual - expected)})`);
}

/** Runs a case in a tidy scope and checks that it leaves no native tensor behind. */
function leakFree(fn: () => void): void {
  const before = T.memory().tensors;
  T.tidy(fn);
  assert.equal(T.memory().tensors, before, 'the case leaked native tensors');
}

/** A float64 module with PyTorch's parameters loaded (strict: every key must match). */
function loaded<M extends T.nn.Module>(module: M, prefix: string): M {
  module.to('float64');
  module.loadStateDict(stateOf(prefix));
  return module;
}

function withModule<M extends T.nn.Module>(module: M, fn: (m: M) => void): void {
  try {
    fn(module);
  } finally {
    module.dispose();
  }
}

// ---------------------------------------------------------------- modules

test('nn.Linear matches PyTorch (3-D input)', () => {
  leakFree(() =>
    withModule(loaded(new nn.Linear(5, 3), 'linear'), (m) => {
      assertClose(m.forward(fx('linear.input')), 'linear.output', 'Linear');
    }),
  );
});

test('nn.Conv2d (stride 2, padding 1, groups 2) matches PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 }), 'conv2d'), (m) => {
      assertClose(m.forward(fx('conv2d.input')), 'conv2d.output', 'Conv2d');
    }),
  );
});

test('nn.ConvTranspose2d (stride 2, padding 1, output_padding 1) matches PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), 'conv_transpose2d'), (m) => {
      assertClose(m.forward(fx('conv_transpose2d.input')), 'conv_transpose2d.output', 'ConvTranspose2d');
    }),
  );
});

test('nn.LayerNorm (2-D normalized shape, eps 1e-6) matches PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.LayerNorm([3, 4], 1e-6), 'layer_norm'), (m) => {
      assertClose(m.forward(fx('layer_norm.input')), 'layer_norm.output', 'LayerNorm');
    }),
  );
});

test('nn.GroupNorm matches PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.GroupNorm(3, 6), 'group_norm'), (m) => {
      assertClose(m.forward(fx('group_norm.input')), 'group_norm.output', 'GroupNorm');
    }),
  );
});

test('nn.BatchNorm2d: train step (output, running stats) and eval match PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.BatchNorm2d(3, { momentum: 0.2 }), 'batch_norm'), (m) => {
      m.train();
      assertClose(m.forward(fx('batch_norm.train_input')), 'batch_norm.train_output', 'BatchNorm2d train output');
      assertClose(m.runningMean!, 'batch_norm.after.running_mean', 'running_mean after a step');
      // running_var is updated with the unbiased batch variance, as PyTorch does.
      assertClose(m.runningVar!, 'batch_norm.after.running_var', 'running_var after a step');
      assert.deepEqual(m.numBatchesTracked!.toNumbers(), fx('batch_norm.after.num_batches_tracked').toNumbers());
      m.eval();
      assertClose(m.forward(fx('batch_norm.eval_input')), 'batch_norm.eval_output', 'BatchNorm2d eval output');
    }),
  );
});

test('nn.Embedding matches PyTorch', () => {
  leakFree(() =>
    withModule(loaded(new nn.Embedding(10, 4, 0), 'embedding'), (m) => {
      assertClose(m.forward(fx('embedding.indices')), 'embedding.output', 'Embedding');
    }),
  );
});

test('nn.MultiheadAttention (batch_first) matches PyTorch: key padding mask, attn mask, averaged weights', () => {
  leakFree(() =>
    withModule(loaded(new nn.MultiheadAttention(8, 2, { batchFirst: true }), 'mha'), (m) => {
      m.eval();
      const x = fx('mha.input');
      const [out, w] = m.forward(x, x, x, { keyPaddingMask: fx('mha.key_padding_mask').bool() });
      assertClose(out, 'mha.output', 'MHA self-attention output');
      assert.ok(w !== null);
      assertClose(w, 'mha.weights', 'MHA self-attention weights');

      const kv = fx('mha.cross.kv');
      const [co, cw] = m.forward(fx('mha.cross.query'), kv, kv, { attnMask: fx('mha.cross.attn_mask').bool() });
      assertClose(co, 'mha.cross.output', 'MHA cross-attention output');
      assert.ok(cw !== null);
      assertClose(cw, 'mha.cross.weights', 'MHA cross-attention weights');
    }),
  );
});

// ---------------------------------------------------------------- functional

test('F.interpolate bilinear / bicubic (align_corners false and true) and nearest match PyTorch', () => {
  leakFree(() => {
    const x = fx('interp.input');
    for (const mode of ['bilinear', 'bicubic'] as const) {
      for (const ac of [false, true]) {
        const tag = `${mode}.ac${ac ? 1 : 0}`;
        assertClose(F.interpolate(x, { size: [8, 4], mode, alignCorners: ac }), `interp.${tag}.size`, `interpolate ${tag} size`);
        assertClose(F.interpolate(x, { scaleFactor: 1.5, mode, alignCorners: ac }), `interp.${tag}.scale`, `interpolate ${tag} scale`);
      }
    }
    assertClose(F.interpolate(x, { size: [8, 4], mode: 'nearest' }), 'interp.nearest.size', 'interpolate nearest size');
    assertClose(F.interpolate(x, { scaleFactor: 1.5, mode: 'nearest' }), 'interp.nearest.scale', 'interpolate nearest scale');
  });
});

test('F.gridSample matches PyTorch (bilinear/zeros, nearest/border/align_corners, bicubic/reflection)', () => {
  leakFree(() => {
    const x = fx('grid_sample.input');
    const g = fx('grid_sample.grid');
    assertClose(F.gridSample(x, g, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false }), 'grid_sample.bilinear_zeros', 'grid_sample bilinear zeros');
    assertClose(F.gridSample(x, g, { mode: 'nearest', paddingMode: 'border', alignCorners: true }), 'grid_sample.nearest_border_ac', 'grid_sample nearest border');
    assertClose(F.gridSample(x, g, { mode: 'bicubic', paddingMode: 'reflection', alignCorners: false }), 'grid_sample.bicubic_reflection', 'grid_sample bicubic reflection');
  });
});

test('F.cosineSimilarity matches PyTorch', () => {
  leakFree(() => {
    assertClose(F.cosineSimilarity(fx('cosine.a'), fx('cosine.b'), 1), 'cosine.dim1', 'cosine dim 1');
    assertClose(F.cosineSimilarity(fx('cosine.a'), fx('cosine.c'), -1), 'cosine.broadcast', 'cosine broadcast');
  });
});

test('F.binaryCrossEntropyWithLogits (pos_weight, weight, reductions) matches PyTorch', () => {
  leakFree(() => {
    const x = fx('bce.input');
    const t = fx('bce.target');
    const posWeight = fx('bce.pos_weight');
    assertClose(F.binaryCrossEntropyWithLogits(x, t, { posWeight }), 'bce.mean', 'bce mean');
    assertClose(F.binaryCrossEntropyWithLogits(x, t, { posWeight, reduction: 'none' }), 'bce.none', 'bce none');
    assertClose(
      F.binaryCrossEntropyWithLogits(x, t, { weight: fx('bce.weight'), posWeight, reduction: 'sum' }),
      'bce.weighted_sum',
      'bce weighted sum',
    );
  });
});

test('F.crossEntropy (label smoothing, ignore index, weights, probability targets, 4-D) matches PyTorch', () => {
  leakFree(() => {
    const x = fx('ce.input');
    const t = fx('ce.target');
    assertClose(F.crossEntropy(x, t), 'ce.plain', 'ce plain');
    const o = { ignoreIndex: 3, labelSmoothing: 0.1 };
    assertClose(F.crossEntropy(x, t, o), 'ce.smooth_ignore_mean', 'ce smooth+ignore mean');
    assertClose(F.crossEntropy(x, t, { ...o, reduction: 'sum' }), 'ce.smooth_ignore_sum', 'ce smooth+ignore sum');
    assertClose(F.crossEntropy(x, t, { ...o, reduction: 'none' }), 'ce.smooth_ignore_none', 'ce smooth+ignore none');
    assertClose(
      F.crossEntropy(x, t, { weight: fx('ce.weight'), ignoreIndex: 3, labelSmoothing: 0.2 }),
      'ce.weighted_smooth_ignore_mean',
      'ce weighted smooth+ignore mean',
    );
    assertClose(F.crossEntropy(x, fx('ce.prob_target'), { labelSmoothing: 0.1 }), 'ce.prob_smooth_mean', 'ce probability targets');
    assertClose(
      F.crossEntropy(fx('ce.seg_input'), fx('ce.seg_target'), { ignoreIndex: 255, labelSmoothing: 0.05 }),
      'ce.seg_smooth_ignore255',
      'ce 4-D segmentation',
    );
  });
});

test('F.softmax / F.logSoftmax match PyTorch', () => {
  leakFree(() => {
    const x = fx('softmax.input');
    assertClose(F.softmax(x, -1), 'softmax.last', 'softmax dim -1');
    assertClose(F.softmax(x, 0), 'softmax.dim0', 'softmax dim 0');
    assertClose(F.logSoftmax(x, -1), 'log_softmax.last', 'log_softmax dim -1');
    assertClose(F.logSoftmax(x, 0), 'log_softmax.dim0', 'log_softmax dim 0');
  });
});

test('F.gelu (none, tanh) and QuickGELU match PyTorch', () => {
  leakFree(() => {
    const x = fx('act.input');
    assertClose(F.gelu(x), 'act.gelu', 'gelu');
    assertClose(F.gelu(x, 'tanh'), 'act.gelu_tanh', 'gelu tanh');
    assertClose(F.quickGelu(x), 'act.quick_gelu', 'quickGelu');
    const modules = [new nn.GELU('tanh'), new nn.QuickGELU()];
    assertClose(modules[0].forward(x), 'act.gelu_tanh', 'nn.GELU(tanh)');
    assertClose(modules[1].forward(x), 'act.quick_gelu', 'nn.QuickGELU');
  });
});

test('F.pad (reflect, constant, replicate) matches PyTorch', () => {
  leakFree(() => {
    const x = fx('pad.input');
    assertClose(F.pad(x, [1, 2, 3, 1], 'reflect'), 'pad.reflect', 'pad reflect');
    assertClose(F.pad(x, [2, 0, 1, 1], 'constant', -1.5), 'pad.constant', 'pad constant');
    assertClose(F.pad(x, [1, 2, 0, 2], 'replicate'), 'pad.replicate', 'pad replicate');
  });
});

test('F.maxPool2d / F.avgPool2d / F.adaptiveAvgPool2d match PyTorch', () => {
  leakFree(() => {
    const x = fx('pool.input');
    assertClose(F.maxPool2d(x, 3, 2, 1), 'pool.max_k3s2p1', 'max_pool2d k3 s2 p1');
    assertClose(F.maxPool2d(x, 2), 'pool.max_k2', 'max_pool2d k2');
    assertClose(F.avgPool2d(x, 3, 2, 1), 'pool.avg_k3s2p1', 'avg_pool2d k3 s2 p1');
    assertClose(F.avgPool2d(x, 2), 'pool.avg_k2', 'avg_pool2d k2');
    assertClose(F.adaptiveAvgPool2d(x, [3, 4]), 'pool.adaptive_avg_3x4', 'adaptive_avg_pool2d');
  });
});

// ---------------------------------------------------------------- optimizers

type MakeOptimizer = (w: T.Tensor, b: T.Tensor, s: T.Tensor) => T.optim.Optimizer<{ lr: number }>;

/** 5 steps on loss = mean((linear(x, w, b) * s - y)^2), compared with PyTorch after each step. */
function checkOptimizer(prefix: string, make: MakeOptimizer): void {
  leakFree(() => {
    const x = fx('opt.x');
    const y = fx('opt.y');
    const w = fx('opt.w0').clone().requiresGrad_();
    const b = fx('opt.b0').clone().requiresGrad_();
    const s = fx('opt.s0').clone().requiresGrad_();
    const opt = make(w, b, s);
    try {
      for (let i = 0; i < 5; i++) {
        T.tidy(() => {
          opt.zeroGrad();
          const loss = F.linear(x, w, b).mul(s).sub(y).pow(2).mean();
          loss.backward();
          opt.step();
          assertClose(loss, fx(`${prefix}.loss`).select(0, i), `${prefix} loss before step ${i + 1}`);
          assertClose(w, fx(`${prefix}.w`).select(0, i), `${prefix} w after step ${i + 1}`);
          assertClose(b, fx(`${prefix}.b`).select(0, i), `${prefix} b after step ${i + 1}`);
          assertClose(s, fx(`${prefix}.s`).select(0, i), `${prefix} s after step ${i + 1}`);
        });
      }
      assert.equal(opt.steps, 5);
    } finally {
      opt.dispose();
    }
  });
}

test('optim.AdamW (two parameter groups) matches torch.optim.AdamW over 5 steps', () => {
  checkOptimizer(
    'adamw',
    (w, b, s) =>
      new optim.AdamW([{ params: [w, b] }, { params: [s], options: { lr: 3e-2, weightDecay: 0, betas: [0.8, 0.99] } }], {
        lr: 1e-2,
        weightDecay: 0.1,
      }),
  );
});

test('optim.SGD (momentum 0.9, nesterov; a plain-momentum group with dampening) matches torch.optim.SGD over 5 steps', () => {
  checkOptimizer(
    'sgd',
    (w, b, s) =>
      new optim.SGD([{ params: [w, b] }, { params: [s], options: { lr: 2e-2, nesterov: false, dampening: 0.1, weightDecay: 0 } }], {
        lr: 5e-2,
        momentum: 0.9,
        nesterov: true,
        weightDecay: 1e-2,
      }),
  );
});

test('optim.clipGradNorm_ matches torch.nn.utils.clip_grad_norm_ (L2 clipping, no clipping, inf norm)', () => {
  const cases: [string, number, number][] = [
    ['l2', 1.0, 2],
    ['l2_noclip', 100.0, 2],
    ['inf', 0.5, Number.POSITIVE_INFINITY],
  ];
  for (const [tag, maxNorm, normType] of cases) {
    leakFree(() => {
      const p1 = T.zeros([3, 4], { dtype: 'float64', requiresGrad: true });
      const p2 = T.zeros([5], { dtype: 'float64', requiresGrad: true });
      p1.grad = fx('clip.g1').clone();
      p2.grad = fx('clip.g2').clone();
      const total = optim.clipGradNorm_([p1, p2], maxNorm, normType);
      assertNear(total, fx(`clip.${tag}.total`).item(), `clip ${tag} total norm`);
      assertClose(p1.grad!, `clip.${tag}.g1`, `clip ${tag} g1`);
      assertClose(p2.grad!, `clip.${tag}.g2`, `clip ${tag} g2`);
    });
  }
});

test('optim.warmupCosine (LambdaLR) gives the learning rates of torch.optim.lr_scheduler.LambdaLR', () => {
  leakFree(() => {
    const p1 = T.zeros([1], { requiresGrad: true });
    const p2 = T.zeros([1], { requiresGrad: true });
    const opt = new optim.SGD([{ params: [p1], options: { lr: 0.1 } }, { params: [p2], options: { lr: 0.02 } }], { lr: 0.1 });
    const sched = optim.warmupCosine(opt, { warmupSteps: 3, totalSteps: 10, minFactor: 0.1 });
    const expected = fx('lambda_lr.lrs').toNumbers(); // [13, 2], row k = lrs after k scheduler steps
    for (let k = 0; k <= 12; k++) {
      if (k > 0) sched.step();
      assertNear(sched.lr[0], expected[2 * k], `group 0 lr after ${k} steps`, 1e-15);
      assertNear(sched.lr[1], expected[2 * k + 1], `group 1 lr after ${k} steps`, 1e-15);
    }
    sched.setStep(5);
    assertNear(sched.lr[0], expected[2 * 5], 'setStep(5) lr', 1e-15);
  });
});

test('optim.warmupCosineFactor follows the warmup + half-cosine formula', () => {
  const formula = (step: number, warmup: number, total: number, minF: number, startF: number): number => {
    if (step < warmup) return startF + ((1 - startF) * step) / warmup;
    const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return minF + ((1 - minF) * (1 + Math.cos(Math.PI * p))) / 2;
  };
  const configs = [
    { warmupSteps: 4, totalSteps: 20, minFactor: 0.05, warmupStartFactor: 0.1 },
    { warmupSteps: 0, totalSteps: 8 },
    { warmupSteps: 5, totalSteps: 5, minFactor: 0.2 },
  ];
  for (const c of configs) {
    for (let step = 0; step <= c.totalSteps + 3; step++) {
      const want = formula(step, c.warmupSteps, c.totalSteps, c.minFactor ?? 0, c.warmupStartFactor ?? 0);
      assertNear(optim.warmupCosineFactor(step, c), want, `factor(${step}) for ${JSON.stringify(c)}`, 1e-15);
    }
  }
  // Landmarks: the warmup starts at warmupStartFactor, peaks at 1, and the decay ends at minFactor.
  const c = configs[0];
  assertNear(optim.warmupCosineFactor(0, c), 0.1, 'start');
  assertNear(optim.warmupCosineFactor(4, c), 1, 'peak');
  assertNear(optim.warmupCosineFactor(12, c), 0.05 + 0.95 * 0.5, 'midpoint of the decay');
  assertNear(optim.warmupCosineFactor(20, c), 0.05, 'end');
  assertNear(optim.warmupCosineFactor(100, c), 0.05, 'after the end');
  assertNear(optim.warmupCosineFactor(0, configs[1]), 1, 'no warmup starts at 1');
});

// Last: free the fixtures and check every native tensor the file made is gone.
test('no native tensors leak', () => {
  for (const t of fixtures.values()) t.dispose();
  assert.equal(T.memory().tensors, START_TENSORS);
});
