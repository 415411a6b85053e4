// TGC-Net on a CUDA device: skipped where libtorch sees none (CI's CPU machines);
// scripts/gpu-check.sh runs these on a GPU machine. The CPU is the reference every time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { evaluateRun } from '../eval/run_eval.js';
import { buildConfig } from '../model/config.js';
import { msDeformAttnCore } from '../model/msdeform_attn.js';
import { randomInputs } from '../model/testing.js';
import { TgcNet } from '../model/tgcnet.js';
import { defaultBpePath } from '../paths.js';
import { train } from './train.js';

const skip = !T.cuda.isAvailable()
  ? 'no CUDA device visible to libtorch (scripts/gpu-check.sh runs these on a GPU machine)'
  : defaultBpePath() === null
    ? 'needs ../shared/clip (CLIP BPE vocabulary)'
    : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-cuda-'));
const data = join(dir, 'data');
before(async () => {
  if (!skip) await writeSynthDataset({ out: data, n: 24, seed: 4, size: 64 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const maxDiff = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.cpu().float().sub(b.cpu().float()).abs().max().item());

test('deformable attention: grid_sample on CUDA equals the fused CPU operator', { skip }, () => {
  T.tidy(() => {
    T.manualSeed(1);
    const shapes: [number, number][] = [[8, 8], [4, 4]];
    const value = T.randn([2, 80, 2, 4]);
    const locations = T.rand([2, 5, 2, 2, 3, 2]);
    const weights = T.F.softmax(T.randn([2, 5, 2, 6]), -1).reshape(2, 5, 2, 2, 3);
    const cpu = T.F.msDeformAttn(value, shapes, locations, weights);
    const gpu = msDeformAttnCore(value.cuda(), shapes, locations.cuda(), weights.cuda());
    assert.ok(maxDiff(gpu, cpu) < 1e-4);
  });
});

test('every preset field on: the model on CUDA gives the CPU logits (every tensor it makes is on its device)', { skip }, () => {
  T.tidy(() => {
    T.manualSeed(0);
    const config = buildConfig('tiny', ['modules.vlcm=true', 'text=aux-injection', 'modules.date=true']);
    const model = new TgcNet(config);
    model.eval();
    const inputs = randomInputs(config, 2);
    const cpu = T.noGrad(() => model.forward(inputs));
    model.to('cuda:0');
    const moved = {
      ...inputs,
      vitPixels: inputs.vitPixels?.cuda() ?? null,
      cnnPixels: inputs.cnnPixels?.cuda() ?? null,
      text: { ...inputs.text, ids: inputs.text.ids.cuda() },
      aux: inputs.aux ? { ...inputs.aux, ids: inputs.aux.ids.cuda() } : null,
    };
    const gpu = T.noGrad(() => model.forward(moved));
    assert.equal(gpu.device, 'cuda:0');
    assert.ok(maxDiff(gpu, cpu) < 1e-3, `logits differ by ${maxDiff(gpu, cpu)}`);
    model.dispose();
  });
});

test('train on CUDA in fp16 (gradient scaler), then evaluate the checkpoint on CUDA and on the CPU', { skip }, async () => {
  const out = join(dir, 'fp16');
  const r = await train({ data, preset: 'tiny', epochs: 1, batch: 4, seed: 2, quiet: true, patience: 0, out, device: 'cuda', precision: 'fp16', maxSteps: 4 });
  assert.equal(r.steps, 4);
  const onGpu = await evaluateRun({ checkpoint: out, data, split: 'test', device: 'cuda', precision: 'fp32' });
  const onCpu = await evaluateRun({ checkpoint: out, data, split: 'test' });
  assert.equal(onGpu.execution.device, 'cuda:0');
  assert.ok(Math.abs(onGpu.dice.micro - onCpu.dice.micro) < 0.01, `Dice ${onGpu.dice.micro} on CUDA, ${onCpu.dice.micro} on the CPU`);
  const resumed = await train({ data, preset: 'tiny', epochs: 1, batch: 4, seed: 2, quiet: true, patience: 0, out, device: 'cuda', precision: 'fp16', resume: true, maxSteps: 2 });
  assert.equal(resumed.steps, 6);
});
