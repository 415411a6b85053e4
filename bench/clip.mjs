#!/usr/bin/env node
// CLIP vision benchmark, TypeScript side: ClipVisionTower (packages/tgcnet/dist/clip/vision.js)
// forward in eval mode under noGrad, fp32, random weights and random pixels. Its PyTorch twin is
// bench/clip_twin.py (an independent OpenAI-architecture tower on nn.MultiheadAttention), which
// reads the weights and pixels that `--prepare FILE` writes (safetensors, Hugging Face names);
// the timed TS process builds the same ones from the same seed (the checksums confirm it).
// Run both with `node bench/run-clip.mjs`; one side alone:
//
//   node bench/clip.mjs --workload b16_224_b1|b16_224_b8|b16_336_b1|b16_336_b8|l14_336_b1|l14_336_b8
//        [--threads N] [--warmup N] [--repeats N] [--serve]
//   node bench/clip.mjs --workload ... --prepare FILE     (writes weights + pixels, then exits)
//
// Checksum: [sum, abs-sum] of the pooled embedding [B, E] (ln_post(class token) @ proj).
import { availableParallelism } from 'node:os';
import { parseArgs } from './lib/runner.mjs';
import { serveOrRun } from './lib/serve.mjs';

const T = await import(process.env.ENGINE_BENCH_TORCH || new URL('../packages/torch/dist/index.js', import.meta.url).href);
const { ClipVisionTower } = await import(process.env.CLIP_BENCH_VISION || new URL('../packages/tgcnet/dist/clip/vision.js', import.meta.url).href);
const { clipPreset } = await import(new URL('../packages/tgcnet/dist/clip/config.js', import.meta.url).href);

export const CLIP_MODELS = {
  b16: 'openai/clip-vit-base-patch16',
  l14: 'openai/clip-vit-large-patch14-336',
};

/** 'b16_336_b8' -> { model: 'b16', size: 336, batch: 8 }. */
export function parseWorkload(key) {
  const m = /^(b16|l14)_(\d+)_b(\d+)$/.exec(key);
  if (!m) throw new Error(`unknown workload '${key}' (e.g. b16_224_b1, b16_336_b8, l14_336_b1)`);
  return { model: m[1], size: Number(m[2]), batch: Number(m[3]) };
}

async function main() {
  const o = parseArgs(process.argv.slice(2), {
    workload: 'b16_224_b1', threads: availableParallelism(), warmup: 1, repeats: 3, prepare: null, serve: false,
  }, ['serve']);
  T.setNumThreads(o.threads);
  const { model, size, batch } = parseWorkload(o.workload);
  const cfg = clipPreset(CLIP_MODELS[model]);
  T.manualSeed(0);
  const tower = new ClipVisionTower(cfg.vision_config, cfg.projection_dim);
  tower.eval();
  tower.freeze();
  const pixels = T.keep(T.randn([batch, 3, size, size]));
  if (o.prepare) {
    // Run by the runner in a process of its own: writing 0.35-1.2 GB through toBuffer() leaves
    // the writer's heap in a state that slowed its later forwards by ~9% (measured at batch 8).
    // The timed process rebuilds the same weights and pixels from the same seed.
    const state = new Map(tower.stateDict());
    state.set('bench.pixels', pixels);
    T.saveSafetensors(o.prepare, state, { format: 'pt' });
    console.log(JSON.stringify({ prepared: o.prepare, workload: o.workload }));
    return;
  }
  const forward = () => T.noGrad(() => tower.forward(pixels).pooled);
  const step = () => T.tidy(() => void forward());
  const check = T.tidy(() => {
    const pooled = forward();
    return [pooled.sum().item(), pooled.abs().sum().item()];
  });
  const grid = size / cfg.vision_config.patch_size;
  await serveOrRun({
    step,
    warmup: o.warmup,
    repeats: o.repeats,
    serve: o.serve,
    info: {
      side: 'ts', workload: o.workload, threads: T.getNumThreads(), check,
      tokens: grid * grid + 1, native_grid: cfg.vision_config.image_size / cfg.vision_config.patch_size,
    },
    done: () => ({ live_tensors: T.memory().tensors }),
  });
}

await main();
