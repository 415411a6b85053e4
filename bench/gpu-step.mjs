#!/usr/bin/env node
// Training-step time of TGC-Net on a CUDA device: per preset and precision, a full step as
// train/train.ts takes it (forward and loss under autocast, backward, gradient scaler for fp16,
// gradient clipping, AdamW), on random inputs at --batch, the frozen CLIP as the preset has it.
// Timed with the device synchronised at both ends, after warm-up steps; median of --repeats.
// Prints a table and one line `GPU_STEP {...}`. On a machine without CUDA it says so and exits 2
// (`--device cpu --presets tiny --precisions fp32,bf16` checks the script itself there).
//
//   node bench/gpu-step.mjs [--presets b16,paper] [--batch 8] [--precisions fp32,bf16,fp16]
//        [--device cuda:0] [--warmup 3] [--repeats 10]
import { parseArgs } from './lib/runner.mjs';

const T = await import(new URL('../packages/torch/dist/index.js', import.meta.url).href);
const dist = new URL('../packages/tgcnet/dist/', import.meta.url).href;
const { TgcNet } = await import(new URL('model/tgcnet.js', dist).href);
const { buildConfig } = await import(new URL('model/config.js', dist).href);
const { randomInputs } = await import(new URL('model/testing.js', dist).href);
const { trainingLoss } = await import(new URL('train/loss.js', dist).href);
const { underPrecision } = await import(new URL('model/execution.js', dist).href);

const o = parseArgs(process.argv.slice(2), { presets: 'b16,paper', batch: 8, precisions: 'fp32,bf16,fp16', device: 'cuda:0', warmup: 3, repeats: 10 });
if (o.device.startsWith('cuda') && !T.cuda.isAvailable()) {
  process.stderr.write(`gpu-step: libtorch ${T.libtorchVersion} sees no CUDA device: run it on a GPU machine (scripts/gpu-check.sh)\n`);
  process.exit(2);
}

function onDevice(inputs, device) {
  const move = (t) => (t === null || t === undefined ? t : T.keep(t.to(device)));
  return {
    ...inputs,
    vitPixels: move(inputs.vitPixels),
    cnnPixels: move(inputs.cnnPixels),
    text: { ...inputs.text, ids: move(inputs.text.ids) },
    aux: inputs.aux ? { ...inputs.aux, ids: move(inputs.aux.ids) } : inputs.aux,
  };
}

function measure(preset, precision) {
  T.manualSeed(0);
  const config = buildConfig(preset, []);
  const model = new TgcNet(config).to(o.device);
  model.train();
  const execution = { device: o.device, precision };
  const inputs = onDevice(randomInputs(config, o.batch), o.device);
  const masks = T.keep(T.rand([o.batch, 1, config.cnnInput, config.cnnInput], { device: o.device }).gt(0.7).float());
  const params = model.parameters().filter((p) => p.requiresGrad);
  const optimizer = new T.optim.AdamW(params, { lr: 1e-4 });
  const scaler = new T.amp.GradScaler({ enabled: precision === 'fp16' });
  const step = () =>
    T.tidy(() => {
      const loss = underPrecision(execution, () => trainingLoss(config, model.forwardTrain(inputs), masks));
      optimizer.zeroGrad();
      scaler.scale(loss).backward();
      scaler.unscale_(optimizer);
      T.optim.clipGradNorm_(params, 1.0);
      scaler.step(optimizer);
      scaler.update();
      return loss.item();
    });
  let loss = Number.NaN;
  for (let i = 0; i < o.warmup; i++) loss = step();
  const times = [];
  for (let i = 0; i < o.repeats; i++) {
    T.cuda.synchronize();
    const t0 = performance.now();
    loss = step();
    T.cuda.synchronize();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const trainable = params.reduce((n, p) => n + p.numel(), 0);
  optimizer.dispose();
  model.dispose();
  return { preset, precision, batch: o.batch, msPerStep: ms, imagesPerSecond: (1000 * o.batch) / ms, loss, trainableParameters: trainable, device: o.device };
}

const rows = [];
for (const preset of o.presets.split(',')) {
  for (const precision of o.precisions.split(',')) {
    try {
      rows.push(measure(preset, precision));
    } catch (err) {
      rows.push({ preset, precision, batch: o.batch, error: err.message.split('\n')[0] });
    }
    const r = rows[rows.length - 1];
    process.stdout.write(
      r.error
        ? `${preset.padEnd(6)} ${precision.padEnd(5)} batch ${o.batch}: FAILED ${r.error}\n`
        : `${preset.padEnd(6)} ${precision.padEnd(5)} batch ${o.batch}: ${r.msPerStep.toFixed(1)} ms/step, ${r.imagesPerSecond.toFixed(1)} img/s, loss ${r.loss.toFixed(4)}\n`,
    );
  }
}
process.stdout.write(`GPU_STEP ${JSON.stringify({ libtorch: T.libtorchVersion, device: o.device, rows })}\n`);
process.exitCode = rows.some((r) => r.error) ? 1 : 0;
