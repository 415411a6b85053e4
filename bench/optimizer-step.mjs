#!/usr/bin/env node
// AdamW's step over the `small` preset's trainable parameters (the demo's: CLIP built and
// trained), dense against `rowSparse` for the embedding tables, as `tgcnet train` declares them.
// The token table gets a gradient on `--rows` rows per step, drawn from 4 x rows (so up to 128
// rows become active at the default, more than a dataset's prompts reach: the demo's training
// prompts hold 23 distinct token ids, the clinical style's 41, QaTa's 26);
// every other parameter a dense one. Two copies of the same weights, each with its own
// optimizer, take the same gradients; rounds alternate which side goes first; medians per side.
// At the end the two copies' weights and moments must be equal to the bit (exit 1 if not).
//
//   node bench/optimizer-step.mjs [--threads 1] [--rows 32] [--rounds 6] [--steps 20]
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    rows: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '6' },
    steps: { type: 'string', default: '20' },
  },
});
const threads = Number(values.threads);
const rows = Number(values.rows);
const rounds = Number(values.rounds);
const steps = Number(values.steps);

const T = await import(new URL('../packages/torch/dist/index.js', import.meta.url).href);
const { TgcNet } = await import(new URL('../packages/tgcnet/dist/model/tgcnet.js', import.meta.url).href);
const { buildConfig } = await import(new URL('../packages/tgcnet/dist/model/config.js', import.meta.url).href);
const { trainingOptimizer } = await import(new URL('../packages/tgcnet/dist/train/optimizer.js', import.meta.url).href);
T.setNumThreads(threads);

const config = buildConfig('small', ['clipTrainable=true']);
/** A fresh copy of the weights with the optimizer `tgcnet train` builds (train/optimizer.ts), row-sparse or not. */
const side = (rowSparse) => {
  T.manualSeed(0);
  const model = new TgcNet(config, null);
  const tables = [...model.namedModules()].map(([, m]) => m).filter((m) => m instanceof T.nn.Embedding).map((m) => m.weight);
  return { model, tables, ...trainingOptimizer(model, { lr: 1e-3, weightDecay: 1e-2, rowSparse }) };
};
const dense = side(false);
const sparse = side(true);
const token = dense.tables.reduce((a, b) => (a.numel() >= b.numel() ? a : b));
const tokenIndex = dense.params.indexOf(token);

let drawn = 0;
/** The same gradients for both sides: dense draws, the token table's on `rows` rows. */
function setGrads() {
  T.manualSeed(1000 + drawn++);
  const grads = dense.params.map((p, i) =>
    T.tidy(() => {
      if (i !== tokenIndex) return T.randn(p.shape).mul(1e-2);
      const g = T.zeros(p.shape);
      const picked = T.randperm(Math.min(rows * 4, p.shape[0])).narrow(0, 0, rows);
      return T.aten.indexCopy_(g, 0, picked, T.randn([rows, p.shape[1]]).mul(1e-2));
    }),
  );
  for (const s of [dense, sparse]) s.params.forEach((p, i) => (p.grad = grads[i]));
  T.dispose(grads);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timed = { dense: [], rowSparse: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ['dense', 'rowSparse'] : ['rowSparse', 'dense'];
  for (let s = 0; s < steps; s++) {
    setGrads();
    for (const name of order) {
      const { optimizer } = name === 'dense' ? dense : sparse;
      const t0 = performance.now();
      optimizer.step();
      timed[name].push(performance.now() - t0);
    }
  }
}
// The first round pays for allocating the moments.
const settled = (xs) => xs.slice(steps);
const d = median(settled(timed.dense));
const s = median(settled(timed.rowSparse));

const same = (a, b) => T.aten.equal(a, b);
let equal = dense.params.every((p, i) => same(p, sparse.params[i]));
const ds = dense.optimizer.stateDict().tensors;
const ss = sparse.optimizer.stateDict().tensors;
for (const [k, t] of ds) equal &&= same(t, ss.get(k));
const numel = dense.params.reduce((n, p) => n + p.numel(), 0);
console.log(
  `AdamW step, small preset (${dense.params.length} parameters, ${(numel / 1e6).toFixed(2)}M values; token table [${token.shape.join(', ')}] with ${rows} rows of gradient), ${threads} thread(s), ${rounds} rounds x ${steps} steps:`,
);
console.log(`  dense ${d.toFixed(1)} ms, rowSparse ${s.toFixed(1)} ms (median per step), ratio ${(s / d).toFixed(3)}; weights and moments equal to the bit: ${equal ? 'yes' : 'NO'}`);
console.log(`OPTIMIZER_BENCH ${JSON.stringify({ threads, rows, dense_ms: d, row_sparse_ms: s, ratio: s / d, equal })}`);
process.exit(equal ? 0 : 1);
