#!/usr/bin/env node
// TGC-Net benchmark, TypeScript side: TgcNet (packages/tgcnet/dist/model) training steps at
// batch 1 on CPU, fp32, with the frozen CLIP under noGrad, and its stages one at a time.
// bench/model_twin.py is its PyTorch twin (the same network written in idiomatic PyTorch).
// Run both with `node bench/run-model.mjs`; one side alone:
//
//   node bench/model.mjs --preset b16|paper --prepare FILE         (writes config, weights, inputs)
//   node bench/model.mjs --preset b16 --workload step|clip|cnn|sse|head|matmul --data FILE
//        [--threads N] [--warmup N] [--repeats N] [--serve]
//
// Workloads (each step starts with every gradient cleared, grad = null):
//   step    TgcNet.forward on randomInputs(config, 1) + logits.square().mean().backward()
//   clip    clip_vision.forward(vitPixels, { taps: vitTaps, dense: true }) under noGrad (frozen)
//   cnn     cnn.forward(cnnPixels), loss sum_l mean(map_l^2), backward
//   sse     sse.forward(cnn maps at strides 8/16/32 (leaves requiring grad), ViT taps), loss
//           sum_l mean(level_l^2), backward (dropout active, train mode)
//   head    DATE + VLCM + cost decoder (+ CLIP dense cost): decoder logits' mean square, backward
//           into the parameters, the pyramid and the stride-4 CNN map (leaves)
//   matmul  a 2048x2048 fp32 matmul (the machine's practical GEMM peak)
// Stage inputs are the real intermediate tensors of the model on the prepared inputs (eval mode).
// Checksums: loss and gradient abs-sums, computed with dropout off (eval) so both sides agree.
import { availableParallelism } from 'node:os';
import { parseArgs } from './lib/runner.mjs';
import { serveOrRun } from './lib/serve.mjs';

const T = await import(process.env.ENGINE_BENCH_TORCH || new URL('../packages/torch/dist/index.js', import.meta.url).href);
const dist = process.env.MODEL_BENCH_TGCNET || new URL('../packages/tgcnet/dist/', import.meta.url).href;
const { TgcNet } = await import(new URL('model/tgcnet.js', dist).href);
const { buildConfig } = await import(new URL('model/config.js', dist).href);
const { randomInputs } = await import(new URL('model/testing.js', dist).href);
const { pixelTextCosine } = await import(new URL('model/decoder.js', dist).href);

function build(preset) {
  T.manualSeed(0);
  const config = buildConfig(preset);
  const model = new TgcNet(config);
  model.train();
  const inputs = randomInputs(config, 1);
  for (const t of [inputs.vitPixels, inputs.cnnPixels, inputs.text.ids, inputs.aux.ids]) T.keep(t);
  return { config, model, inputs };
}

/** Writes config (metadata), weights (all but the CLIP text tower), inputs and stage inputs. */
function prepare(preset, path) {
  const { config, model, inputs } = build(preset);
  model.eval();
  T.tidy(() =>
    T.noGrad(() => {
      const text = model.textFeatures(inputs.text);
      const aux = model.textFeatures(inputs.aux);
      const clip = model.clip_vision.forward(inputs.vitPixels, { taps: config.vitTaps, dense: true });
      const maps = model.cnn.forward(inputs.cnnPixels);
      const pyramid = model.sse.forward(maps.slice(1), clip.taps);
      const tensors = new Map();
      for (const [k, t] of model.stateDict()) if (!k.startsWith('clip_text.')) tensors.set(k, t);
      tensors.set('in.vit_pixels', inputs.vitPixels);
      tensors.set('in.cnn_pixels', inputs.cnnPixels);
      for (const [name, f] of [['text', text], ['aux', aux]]) {
        tensors.set(`in.${name}.pooled`, f.pooled.contiguous());
        tensors.set(`in.${name}.tokens`, f.tokens.contiguous());
        tensors.set(`in.${name}.mask`, f.mask.contiguous());
      }
      tensors.set('in.aux_present', T.tensor(inputs.auxPresent.map((p) => (p ? 1 : 0))));
      clip.taps.forEach((t, i) => tensors.set(`stage.vit_taps.${i}`, t.contiguous()));
      tensors.set('stage.clip_dense', clip.dense.contiguous());
      maps.forEach((t, i) => tensors.set(`stage.cnn_maps.${i}`, t.contiguous()));
      pyramid.forEach((t, i) => tensors.set(`stage.pyramid.${i}`, t.contiguous()));
      T.saveSafetensors(path, tensors, { format: 'pt', config: JSON.stringify(config), clip: JSON.stringify(model.clipConfig) });
    }),
  );
}

function loadInputs(path) {
  const file = T.SafetensorsFile.open(path);
  const out = {};
  try {
    for (const k of file.keys()) if (k.startsWith('in.') || k.startsWith('stage.')) out[k] = T.keep(file.get(k));
  } finally {
    file.close();
  }
  return out;
}

const trainable = (module) => [...module.parameters()].filter((p) => p.requiresGrad);
const gradAbsSum = (ts) => T.tidy(() => ts.reduce((s, p) => s + (p.grad ? p.grad.abs().sum().item() : 0), 0));
const sumMeanSquares = (ts) => ts.map((m) => m.square().mean()).reduce((a, b) => a.add(b));

/** Returns { step, check } for a workload. */
function workload(name, preset, path) {
  if (name === 'matmul') {
    T.manualSeed(0);
    const a = T.keep(T.randn([2048, 2048]));
    const b = T.keep(T.randn([2048, 2048]));
    return { step: () => T.tidy(() => void a.matmul(b)), check: () => T.tidy(() => [a.matmul(b).abs().sum().item()]) };
  }
  const { config, model, inputs } = build(preset);
  const x = loadInputs(path);
  inputs.vitPixels = x['in.vit_pixels'];
  inputs.cnnPixels = x['in.cnn_pixels'];
  const feats = (n) => ({ pooled: x[`in.${n}.pooled`], tokens: x[`in.${n}.tokens`], mask: x[`in.${n}.mask`] });
  const maps = [0, 1, 2, 3].map((i) => x[`stage.cnn_maps.${i}`]);
  const taps = [0, 1, 2].map((i) => x[`stage.vit_taps.${i}`]);
  const labelSize = [config.cnnInput, config.cnnInput];
  // Checksums with dropout off: train-mode dropout masks differ between processes.
  const withEval = (fn) => () => {
    model.eval();
    try {
      return fn();
    } finally {
      model.train();
    }
  };
  const clear = (ts) => {
    for (const p of ts) p.grad = null;
  };

  if (name === 'clip') {
    const run = () => T.noGrad(() => model.clip_vision.forward(inputs.vitPixels, { taps: config.vitTaps, dense: true }));
    return {
      step: () => T.tidy(() => void run()),
      check: () =>
        T.tidy(() => {
          const o = run();
          return [o.pooled.sum().item(), o.pooled.abs().sum().item(), o.taps.reduce((s, t) => s + t.abs().sum().item(), 0), o.dense.abs().sum().item()];
        }),
    };
  }
  if (name === 'cnn') {
    const params = trainable(model.cnn);
    const run = () => {
      clear(params);
      const loss = sumMeanSquares(model.cnn.forward(inputs.cnnPixels));
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params)])) };
  }
  if (name === 'sse') {
    const params = trainable(model.sse);
    const leaves = maps.slice(1).map((m) => T.keep(m.clone().requiresGrad_()));
    const run = () => {
      clear(params);
      clear(leaves);
      const loss = sumMeanSquares(model.sse.forward(leaves, taps));
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params), gradAbsSum(leaves)])) };
  }
  if (name === 'head') {
    const params = [...trainable(model.date), ...trainable(model.vlcm), ...trainable(model.decoder)];
    const pyramid = [0, 1, 2].map((i) => T.keep(x[`stage.pyramid.${i}`].clone().requiresGrad_()));
    const highRes = T.keep(maps[0].clone().requiresGrad_());
    const leaves = [...pyramid, highRes];
    const primary = feats('text');
    const aux = feats('aux');
    const run = () => {
      clear(params);
      clear(leaves);
      // As TgcNet.forward after the encoders.
      const clipCost = pixelTextCosine(x['stage.clip_dense'], primary.pooled);
      const joint = model.date.forward(primary, aux, x['in.aux_present']);
      const calibrated = model.vlcm.forward(pyramid, joint);
      const logits = model.decoder.forward(calibrated.levels, calibrated.text.pooled, clipCost, highRes, labelSize);
      const loss = logits.square().mean();
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params), gradAbsSum(leaves)])) };
  }
  if (name === 'step') {
    const params = trainable(model);
    const run = () => {
      clear(params);
      const loss = model.forward(inputs).square().mean();
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params)])) };
  }
  throw new Error(`unknown workload '${name}' (step, clip, cnn, sse, head, matmul)`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2), {
    preset: 'b16', workload: 'step', data: null, prepare: null, threads: availableParallelism(), warmup: 1, repeats: 3, serve: false,
  }, ['serve']);
  T.setNumThreads(o.threads);
  if (o.prepare) {
    prepare(o.preset, o.prepare);
    console.log(JSON.stringify({ prepared: o.prepare, preset: o.preset }));
    return;
  }
  const w = workload(o.workload, o.preset, o.data);
  const check = w.check();
  await serveOrRun({
    step: w.step,
    warmup: o.warmup,
    repeats: o.repeats,
    serve: o.serve,
    info: { side: 'ts', workload: o.workload, preset: o.preset, threads: T.getNumThreads(), check },
    done: () => ({ live_tensors: T.memory().tensors }),
  });
}

await main();
