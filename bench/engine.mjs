#!/usr/bin/env node
// Engine benchmark, TypeScript side (@tgcnet/torch). bench/engine_twin.py is its PyTorch
// twin: same workloads, same shapes, same ops, same seeds. Run both with
// `node bench/run-engine.mjs`; run this file alone for one side:
//
//   node bench/engine.mjs --workload conv|smallops|smallops_tidy|block|msdeform|msdeform_gs [--threads N]
//        [--warmup N] [--repeats N] [--serve]
//
// --serve: after set-up and warm-up, print {"ready":true,...} and time `run K` requests from
// stdin (one JSON line of samples each) until `quit`; the runner alternates the two sides so.
//
// ENGINE_BENCH_TORCH=/path/to/dist/index.js benchmarks another build of @tgcnet/torch
// (an experiment copy) instead of packages/torch/dist.
//
// Prints one JSON line: {"side":"ts","workload":...,"samples_ms":[...],"check":...}.
import { availableParallelism } from 'node:os';
import { parseArgs } from './lib/runner.mjs';
import { serveOrRun } from './lib/serve.mjs';

const T = await import(process.env.ENGINE_BENCH_TORCH || new URL('../packages/torch/dist/index.js', import.meta.url).href);

// ---- (a) conv2d fwd+bwd: x[4,64,64,64] * w[64,64,3,3], padding 1 ----
function conv() {
  T.manualSeed(0);
  const x = T.keep(T.randn([4, 64, 64, 64]).requiresGrad_());
  const w = T.keep(T.randn([64, 64, 3, 3]).mul_(0.05).requiresGrad_());
  const step = () => {
    x.grad = null;
    w.grad = null;
    T.tidy(() => {
      const y = T.F.conv2d(x, w, null, { padding: 1 });
      y.sum().backward();
    });
  };
  const check = () =>
    T.tidy(() => {
      step();
      return w.grad.sum().item() + x.grad.sum().item();
    });
  return { step, check, warmup: 3, repeats: 10 };
}

// ---- (b) 10,000 ops on [16]-element tensors: per-op overhead ----
// A chain of 1,250 rounds of 8 ops, each producing a new tensor; the previous one is
// freed at once (as Python's refcount does for `y = y.add(b)`).
const CHAIN_ROUNDS = 1250; // x 8 ops = 10,000 ops

function smallopsInputs() {
  T.manualSeed(0);
  const x = T.keep(T.randn([16]));
  const b = T.keep(T.randn([16]).mul_(0.1));
  const c = T.keep(T.rand([16]).add_(0.5));
  return { x, b, c };
}

function smallops() {
  const { x, b, c } = smallopsInputs();
  const chain = () => {
    let y = x;
    let n;
    for (let i = 0; i < CHAIN_ROUNDS; i++) {
      n = y.add(b); if (y !== x) y.dispose(); y = n;
      n = y.mul(c); y.dispose(); y = n;
      n = y.sub(b); y.dispose(); y = n;
      n = y.div(c); y.dispose(); y = n;
      n = y.add(0.5); y.dispose(); y = n;
      n = y.mul(0.5); y.dispose(); y = n;
      n = y.tanh(); y.dispose(); y = n;
      n = y.neg(); y.dispose(); y = n;
    }
    return y;
  };
  const step = () => chain().dispose();
  const check = () => {
    const y = chain();
    const v = T.tidy(() => y.sum().item());
    y.dispose();
    return v;
  };
  return { step, check, warmup: 3, repeats: 9 };
}

// Same chain, written with one tidy() per 8-op round instead of explicit dispose().
function smallopsTidy() {
  const { x, b, c } = smallopsInputs();
  const chain = () => {
    let y = x;
    for (let i = 0; i < CHAIN_ROUNDS; i++) {
      const prev = y;
      y = T.tidy(() => y.add(b).mul(c).sub(b).div(c).add(0.5).mul(0.5).tanh().neg());
      if (prev !== x) prev.dispose();
    }
    return y;
  };
  const step = () => chain().dispose();
  const check = () => {
    const y = chain();
    const v = T.tidy(() => y.sum().item());
    y.dispose();
    return v;
  };
  return { step, check, warmup: 3, repeats: 9 };
}

// ---- (c) one pre-LN transformer block (ViT-L/14@336: 577 tokens x 1024), fwd+bwd ----
const WIDTH = 1024;
const HEADS = 16;
const TOKENS = 577;

class ResidualAttentionBlock extends T.nn.Module {
  constructor(width, heads) {
    super();
    this.ln_1 = this.registerModule('ln_1', new T.nn.LayerNorm(width));
    this.attn = this.registerModule('attn', new T.nn.MultiheadAttention(width, heads, { batchFirst: true }));
    this.ln_2 = this.registerModule('ln_2', new T.nn.LayerNorm(width));
    this.c_fc = this.registerModule('c_fc', new T.nn.Linear(width, 4 * width));
    this.c_proj = this.registerModule('c_proj', new T.nn.Linear(4 * width, width));
  }

  forward(x) {
    return T.tidy(() => {
      const h = this.ln_1.forward(x);
      const r = x.add(this.attn.forward(h, h, h, { needWeights: false })[0]);
      const m = this.c_proj.forward(T.F.quickGelu(this.c_fc.forward(this.ln_2.forward(r))));
      return r.add(m);
    });
  }
}

/** Deterministic parameters, filled in sorted-key order (the twin does the same). */
function fillParameters(module) {
  const entries = [...module.namedParameters()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  T.noGrad(() => {
    for (const [name, p] of entries) {
      T.tidy(() => {
        const isLnWeight = name.startsWith('ln_') && name.endsWith('.weight');
        const v = T.randn([...p.shape]).mul(0.02);
        p.copy_(isLnWeight ? v.add(1) : v);
      });
    }
  });
  return entries.map(([, p]) => p);
}

function block() {
  const m = new ResidualAttentionBlock(WIDTH, HEADS);
  T.manualSeed(0);
  const params = fillParameters(m);
  const x = T.keep(T.randn([1, TOKENS, WIDTH]));
  const step = () => {
    for (const p of params) p.grad = null;
    T.tidy(() => m.forward(x).sum().backward());
  };
  const check = () =>
    T.tidy(() => {
      for (const p of params) p.grad = null;
      const loss = m.forward(x).sum();
      const l = loss.item();
      loss.backward();
      return l + m.attn.inProjWeight.grad.abs().sum().item();
    });
  return { step, check, warmup: 2, repeats: 7 };
}

// ---- (d) multi-scale deformable attention fwd+bwd at the `paper` SSE shapes ----
// Encoder self-attention over the CNN pyramid at 768 px (strides 8/16/32: 96^2 + 48^2 + 24^2
// queries), d_model 256 = 8 heads x 32, 4 points per level. `msdeform` is our fused operator,
// `msdeform_gs` the grid_sample formulation (Deformable-DETR's ms_deform_attn_core_pytorch);
// the twin runs the grid_sample formulation for both, as public PyTorch code does.
const MSDA = { shapes: [[96, 96], [48, 48], [24, 24]], heads: 8, dim: 32, points: 4 };

function msdeformInputs() {
  T.manualSeed(0);
  const { shapes, heads, dim, points } = MSDA;
  const total = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const levels = shapes.length;
  const value = T.keep(T.randn([1, total, heads, dim]).requiresGrad_());
  // Locations a little beyond [0, 1] too, so the zero-padding edge is exercised.
  const locations = T.keep(T.rand([1, total, heads, levels, points, 2]).mul(1.2).sub(0.1).requiresGrad_());
  const logits = T.randn([1, total, heads, levels * points]);
  const weights = T.keep(T.F.softmax(logits, -1).reshape(1, total, heads, levels, points).requiresGrad_());
  logits.dispose();
  return { value, locations, weights };
}

// The same formulation as msDeformAttnCore (packages/tgcnet/src/model/msdeform_attn.ts), restated
// here because this bench loads the engine alone (ENGINE_BENCH_TORCH may swap it for another build).
function gridSampleCore(value, shapes, locations, weights) {
  const [B, , heads, D] = value.shape;
  const [, Lq, , levels, points] = locations.shape;
  const perLevel = value.split(shapes.map(([h, w]) => h * w), 1);
  const grids = locations.mul(2).sub(1);
  const sampled = shapes.map(([h, w], l) => {
    const v = perLevel[l].flatten(2).transpose(1, 2).reshape(B * heads, D, h, w);
    const g = grids.select(3, l).transpose(1, 2).flatten(0, 1);
    return T.F.gridSample(v, g, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false });
  });
  const stacked = T.F.stack(sampled, -2).flatten(-2);
  const w = weights.transpose(1, 2).reshape(B * heads, 1, Lq, levels * points);
  return stacked.mul(w).sum(-1).reshape(B, heads * D, Lq).transpose(1, 2);
}

function msdeformWorkload(fused) {
  const { value, locations, weights } = msdeformInputs();
  const forward = () => (fused ? T.F.msDeformAttn(value, MSDA.shapes, locations, weights) : gridSampleCore(value, MSDA.shapes, locations, weights));
  const zero = () => {
    value.grad = null;
    locations.grad = null;
    weights.grad = null;
  };
  const step = () => {
    zero();
    T.tidy(() => forward().square().sum().backward());
  };
  const check = () =>
    T.tidy(() => {
      zero();
      const loss = forward().square().sum();
      const l = loss.item();
      loss.backward();
      return [l, value.grad.abs().sum().item(), locations.grad.abs().sum().item(), weights.grad.abs().sum().item()];
    });
  return { step, check, warmup: 2, repeats: 7 };
}

const WORKLOADS = { conv, smallops, smallops_tidy: smallopsTidy, block, msdeform: () => msdeformWorkload(true), msdeform_gs: () => msdeformWorkload(false) };

async function main() {
  // --warmup and --repeats default to the workload's own counts.
  const opts = parseArgs(process.argv.slice(2), { workload: 'conv', threads: availableParallelism(), warmup: null, repeats: null, serve: false }, ['serve']);
  T.setNumThreads(opts.threads);
  const make = WORKLOADS[opts.workload];
  if (!make) throw new Error(`unknown workload '${opts.workload}' (${Object.keys(WORKLOADS).join(', ')})`);
  const w = make();
  const info = { side: 'ts', workload: opts.workload, threads: T.getNumThreads(), check: w.check() };
  // Warm-up, then either `run K` requests from run-engine.mjs (--serve) or one line of samples.
  await serveOrRun({
    step: w.step,
    warmup: opts.warmup === null ? w.warmup : Number(opts.warmup),
    repeats: opts.repeats === null ? w.repeats : Number(opts.repeats),
    serve: opts.serve,
    info,
    done: () => ({ live_tensors: T.memory().tensors }),
  });
}

await main();
