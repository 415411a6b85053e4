#!/usr/bin/env node
// TGC-Net benchmark, TypeScript side: TgcNet (packages/tgcnet/dist/model) training steps at
// batch 1 on CPU, fp32, with the frozen CLIP under noGrad, and its stages one at a time.
// bench/model_twin.py is its PyTorch twin (the same network written in idiomatic PyTorch).
// Run both with `node bench/run-model.mjs`; one side alone:
//
//   node bench/model.mjs --preset b16|paper|small|tiny [--set key=value ...] --prepare FILE
//        (writes config, weights, inputs)
//   node bench/model.mjs --preset b16 [--set key=value ...] --workload step|clip|cnn|sse|head|matmul --data FILE
//        [--threads N] [--warmup N] [--repeats N] [--serve]
// --set overrides preset fields as `tgcnet train --set` does (buildConfig); give the same ones
// to --prepare and to the workloads (the twin reads the config from the file). The workloads
// build the model from the seed, then load the file's weights (all but the CLIP text tower,
// whose features for the benchmark prompts are in the file), as the twin does.
//
// Workloads (each step starts with every gradient cleared, grad = null):
//   step    a training step's forward and backward (train/train.ts, without the optimizer):
//           TgcNet.forwardTrain on randomInputs(config, 1) (pixels from the file), loss =
//           segmentationLoss(logits, mask) + textLoss (text reconstruction, when on) +
//           objective.textPixel * pixelTextLoss (when on), backward
//   clip    clip_vision.forward(vitPixels, { taps: vitTaps, dense: true }) under noGrad (frozen)
//   cnn     cnn.forward(cnnPixels), loss sum_l mean(map_l^2), backward
//   sse     sse.forward(cnn maps at strides 8/16/32 (leaves requiring grad), ViT taps), loss
//           sum_l mean(level_l[:, :d/2]^2) (half the channels: the levels leave a LayerNorm,
//           so the mean square over all channels is ~1 whatever the input and its gradients
//           are rounding noise), backward (dropout active, train mode)
//   head    DATE + VLCM + cost decoder (+ CLIP dense cost) + the training-only heads, as
//           TgcNet.forwardTrain after the encoders, with the step's loss; backward into the
//           parameters, the pyramid and the stride-4 CNN map (leaves)
//   matmul  a 2048x2048 fp32 matmul (the machine's practical GEMM peak)
// Stage inputs are the real intermediate tensors of the model on the prepared inputs (eval mode).
// Checksums: loss and gradient abs-sums, computed with dropout off (the Dropout modules in eval;
// the model stays in train mode so that the training-only heads run) so both sides agree.
// The target mask (in.masks) is a fixed square, the same on both sides.
import { availableParallelism } from 'node:os';
import { parseArgs } from './lib/runner.mjs';
import { serveOrRun } from './lib/serve.mjs';

const T = await import(process.env.ENGINE_BENCH_TORCH || new URL('../packages/torch/dist/index.js', import.meta.url).href);
const dist = process.env.MODEL_BENCH_TGCNET || new URL('../packages/tgcnet/dist/', import.meta.url).href;
const { TgcNet } = await import(new URL('model/tgcnet.js', dist).href);
const { buildConfig } = await import(new URL('model/config.js', dist).href);
const { randomInputs } = await import(new URL('model/testing.js', dist).href);
const { pixelTextCosine } = await import(new URL('model/decoder.js', dist).href);
// The loss of a training step, as train/train.ts adds it up from forwardTrain's outputs.
const { trainingLoss } = await import(new URL('train/loss.js', dist).href);

/** A fixed target mask [1, 1, S, S]: a square over rows and columns [S/4, S/2). */
function targetMask(side) {
  const m = new Float32Array(side * side);
  for (let y = side >> 2; y < side >> 1; y++) m.fill(1, y * side + (side >> 2), y * side + (side >> 1));
  return T.tensor(m, { shape: [1, 1, side, side] });
}

function build(preset, overrides = []) {
  T.manualSeed(0);
  const config = buildConfig(preset, overrides);
  const model = new TgcNet(config);
  model.train();
  const inputs = randomInputs(config, 1);
  for (const t of [inputs.vitPixels, inputs.cnnPixels, inputs.text.ids, inputs.aux.ids]) T.keep(t);
  return { config, model, inputs };
}

/**
 * Moves every deformable-attention sampling offset's bias by up to half a pixel (uniform, seeded).
 * At initialisation the offsets are whole pixels from pixel centres, so every sampling point sits
 * on a pixel centre, where bilinear sampling has no derivative: the fused operator and
 * grid_sample then take different one-sided derivatives (measured on `small`: 1.7% apart in
 * sampling_offsets' gradient). A trained model's points are anywhere; so are these.
 */
function offPixelCentres(model) {
  T.noGrad(() =>
    T.tidy(() => {
      for (const [k, p] of model.namedParameters()) if (k.endsWith('.self_attn.sampling_offsets.bias')) p.add_(T.rand([...p.shape]).sub(0.5));
    }),
  );
}

/** Writes config (metadata), weights (all but the CLIP text tower), inputs and stage inputs. */
function prepare(preset, overrides, path) {
  const { config, model, inputs } = build(preset, overrides);
  offPixelCentres(model);
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
      // What the text-reconstruction loss reads (ids and end-of-text index), and the target mask.
      tensors.set('in.text.ids', inputs.text.ids);
      tensors.set('in.text.eot', T.tensor(inputs.text.eot, { dtype: 'int64' }));
      tensors.set('in.masks', targetMask(config.cnnInput));
      clip.taps.forEach((t, i) => tensors.set(`stage.vit_taps.${i}`, t.contiguous()));
      tensors.set('stage.clip_dense', clip.dense.contiguous());
      maps.forEach((t, i) => tensors.set(`stage.cnn_maps.${i}`, t.contiguous()));
      pyramid.forEach((t, i) => tensors.set(`stage.pyramid.${i}`, t.contiguous()));
      T.saveSafetensors(path, tensors, { format: 'pt', config: JSON.stringify(config), clip: JSON.stringify(model.clipConfig) });
    }),
  );
}

/** Loads the file's weights into model (all but the CLIP text tower, which is not in it) and returns its inputs. */
function loadFile(path, model) {
  const file = T.SafetensorsFile.open(path);
  const out = {};
  const weights = new Map();
  try {
    for (const k of file.keys()) {
      if (k.startsWith('in.') || k.startsWith('stage.')) out[k] = T.keep(file.get(k));
      else weights.set(k, T.keep(file.get(k)));
    }
  } finally {
    file.close();
  }
  const { missing, unexpected } = model.loadStateDict(weights, { strict: false });
  for (const t of weights.values()) t.dispose();
  const wrong = [...missing.filter((k) => !k.startsWith('clip_text.')), ...unexpected];
  if (wrong.length) throw new Error(`${path}: weights do not fit this model (${wrong.slice(0, 5).join(', ')})`);
  return out;
}

const trainable = (module) => [...module.parameters()].filter((p) => p.requiresGrad);
const gradAbsSum = (ts) => T.tidy(() => ts.reduce((s, p) => s + (p.grad ? p.grad.abs().sum().item() : 0), 0));
const sumMeanSquares = (ts) => ts.map((m) => m.square().mean()).reduce((a, b) => a.add(b));

/** Returns { step, check } for a workload. */
function workload(name, preset, overrides, path) {
  if (name === 'matmul') {
    T.manualSeed(0);
    const a = T.keep(T.randn([2048, 2048]));
    const b = T.keep(T.randn([2048, 2048]));
    return { step: () => T.tidy(() => void a.matmul(b)), check: () => T.tidy(() => [a.matmul(b).abs().sum().item()]) };
  }
  const { config, model, inputs } = build(preset, overrides);
  const x = loadFile(path, model);
  const masks = x['in.masks'];
  inputs.vitPixels = x['in.vit_pixels'];
  inputs.cnnPixels = x['in.cnn_pixels'];
  const feats = (n) => ({ pooled: x[`in.${n}.pooled`], tokens: x[`in.${n}.tokens`], mask: x[`in.${n}.mask`] });
  const maps = [0, 1, 2, 3].map((i) => x[`stage.cnn_maps.${i}`]);
  const taps = [0, 1, 2].map((i) => x[`stage.vit_taps.${i}`]);
  const labelSize = [config.cnnInput, config.cnnInput];
  // Checksums with dropout off (train-mode dropout masks differ between processes); the rest of
  // the model stays in train mode, so forwardTrain's training-only heads run.
  const dropouts = [...model.namedModules()].map(([, m]) => m).filter((m) => m instanceof T.nn.Dropout);
  const withEval = (fn) => () => {
    for (const m of dropouts) m.training = false;
    try {
      return fn();
    } finally {
      for (const m of dropouts) m.training = true;
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
      const loss = sumMeanSquares(model.sse.forward(leaves, taps).map((m) => m.narrow(1, 0, config.dModel / 2)));
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params), gradAbsSum(leaves)])) };
  }
  if (name === 'head') {
    const params = [model.date, model.vlcm, model.decoder, model.text_reconstruction].filter((m) => m !== null).flatMap(trainable);
    if (model.text_pixel_scale) params.push(model.text_pixel_scale);
    const pyramid = [0, 1, 2].map((i) => T.keep(x[`stage.pyramid.${i}`].clone().requiresGrad_()));
    const highRes = T.keep(maps[0].clone().requiresGrad_());
    const leaves = [...pyramid, highRes];
    const primary = feats('text');
    const aux = feats('aux');
    const run = () => {
      clear(params);
      clear(leaves);
      // As TgcNet.forwardTrain after the encoders (its #decode), in train mode.
      const clipCost = pixelTextCosine(x['stage.clip_dense'], primary.pooled);
      const joint = model.date.forward(primary, model.date.cross_attn ? aux : null, x['in.aux_present']);
      const calibrated = model.vlcm ? model.vlcm.forward(pyramid, joint) : { levels: pyramid, text: joint };
      const tokens = calibrated.text.tokens ? { tokens: calibrated.text.tokens, mask: calibrated.text.mask } : null;
      const logits = model.decoder.forward(calibrated.levels, calibrated.text.pooled, clipCost, highRes, labelSize, tokens);
      const textLoss = model.text_reconstruction
        ? model.text_reconstruction.loss(joint.pooled, inputs.text.ids, inputs.text.eot).mul(config.objective.textReconstruction)
        : null;
      const pixelTextLogits = model.text_pixel_scale
        ? pixelTextCosine(calibrated.levels[0], calibrated.text.pooled).mul(model.text_pixel_scale.select(0, 0)).add(model.text_pixel_scale.select(0, 1))
        : null;
      const loss = trainingLoss(config, { logits, textLoss, pixelTextLogits }, masks);
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params), gradAbsSum(leaves)])) };
  }
  if (name === 'step') {
    const params = trainable(model);
    const run = () => {
      clear(params);
      const loss = trainingLoss(config, model.forwardTrain(inputs), masks);
      loss.backward();
      return loss;
    };
    return { step: () => T.tidy(() => void run()), check: withEval(() => T.tidy(() => [run().item(), gradAbsSum(params)])) };
  }
  throw new Error(`unknown workload '${name}' (step, clip, cnn, sse, head, matmul)`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2), {
    preset: 'b16', set: [], workload: 'step', data: null, prepare: null, threads: availableParallelism(), warmup: 1, repeats: 3, serve: false,
  }, ['serve']);
  T.setNumThreads(o.threads);
  if (o.prepare) {
    prepare(o.preset, o.set, o.prepare);
    console.log(JSON.stringify({ prepared: o.prepare, preset: o.preset, set: o.set }));
    return;
  }
  const w = workload(o.workload, o.preset, o.set, o.data);
  const check = w.check();
  await serveOrRun({
    step: w.step,
    warmup: o.warmup,
    repeats: o.repeats,
    serve: o.serve,
    info: { side: 'ts', workload: o.workload, preset: o.preset, set: o.set, threads: T.getNumThreads(), check },
    done: () => ({ live_tensors: T.memory().tensors }),
  });
}

await main();
