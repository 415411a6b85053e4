// --device and --precision: checked before any work with messages that say what to do;
// bf16 autocast trains and evaluates on the CPU (CUDA's fp16 is the GPU script's to check),
// weights and checkpoints stay float32, and precision is part of exact resume.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { evaluateRun } from '../eval/run_eval.js';
import { resolveExecution } from '../model/execution.js';
import { defaultBpePath } from '../paths.js';
import { train } from './train.js';

const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-precision-'));
const data = join(dir, 'data');
before(async () => {
  if (!skip) await writeSynthDataset({ out: data, n: 24, seed: 3, size: 64 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { data, preset: 'tiny', epochs: 1, batch: 4, seed: 2, quiet: true, patience: 0 };

test('resolveExecution: cpu by default, fp16 only on CUDA, CUDA refused with a way out where there is none', () => {
  assert.deepEqual(resolveExecution({}), { device: 'cpu', precision: 'fp32' });
  assert.deepEqual(resolveExecution({ device: 'cpu', precision: 'bf16' }), { device: 'cpu', precision: 'bf16' });
  assert.throws(() => resolveExecution({ precision: 'fp16' }), /fp16 needs --device cuda.*use bf16/);
  assert.throws(() => resolveExecution({ device: 'gpu' }), /expected cpu, cuda or cuda:N/);
  if (!T.cuda.isAvailable()) {
    assert.throws(() => resolveExecution({ device: 'cuda' }), /sees no CUDA device here.*--device cpu/);
    assert.throws(() => resolveExecution({ device: 'cuda:1' }), /sees no CUDA device/);
  } else {
    assert.equal(resolveExecution({ device: 'cuda' }).device, 'cuda:0');
    assert.equal(resolveExecution({ device: 'cuda' }, 0).device, 'cuda:0');
    assert.throws(() => resolveExecution({ device: 'cuda:0' }, 1), /give --device cuda/);
    assert.throws(() => resolveExecution({ device: `cuda:${T.cuda.deviceCount()}` }), /numbered from 0/);
  }
});

test('bf16 autocast on the CPU: a run trains, stays float32 on disk, evaluates, and resumes only in bf16', { skip }, async () => {
  const out = join(dir, 'bf16');
  const r = await train({ ...base, out, precision: 'bf16', maxSteps: 3 });
  assert.equal(r.steps, 3);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.train.precision, 'bf16');
  T.tidy(() => {
    const w = T.loadSafetensors(join(out, 'last', 'model.safetensors'));
    for (const [k, t] of w) {
      if (t.dtype.startsWith('float')) assert.equal(t.dtype, 'float32', k);
      assert.ok(Number.isFinite(t.abs().sum().item()), `${k} finite`);
    }
    T.dispose([...w.values()]);
  });
  const before = T.memory().tensors;
  const e = await evaluateRun({ checkpoint: out, data, split: 'test', precision: 'bf16' });
  assert.ok(e.dice.micro >= 0 && e.dice.micro <= 1);
  assert.deepEqual(e.execution, { device: 'cpu', precision: 'bf16' });
  assert.equal(T.memory().tensors, before, 'evaluation leaves no live tensors');
  await assert.rejects(train({ ...base, out, resume: true, precision: 'fp32' }), /--precision bf16 \(now --precision fp32\)/);
  const resumed = await train({ ...base, out, resume: true });
  assert.ok(resumed.steps > 3);
});

test('training with --device cuda where libtorch has none fails before touching the run folder', { skip: skip || T.cuda.isAvailable() }, async () => {
  const out = join(dir, 'cuda');
  await assert.rejects(train({ ...base, out, device: 'cuda' }), /--device cuda: libtorch .* sees no CUDA device/);
  assert.throws(() => readFileSync(join(out, 'config.json')), /ENOENT/);
});
