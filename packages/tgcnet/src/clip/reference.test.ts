// Our CLIP against an independent PyTorch implementation written from OpenAI's published
// architecture (scripts/make-clip-fixtures.py; reference computed in float64). The fixture
// holds the weights in OpenAI naming, the inputs and the expected outputs; the weights go
// through the real loader (loadClip on a folder, OpenAI -> Hugging Face conversion).
//
// Error measure: for a reference r and our value x of the same shape,
//   relErr(x, r) = max_i |x_i - r_i| / max_i |r_i|
// (the largest absolute error, relative to the largest reference magnitude), required <= 1e-5.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { loadClip } from './checkpoint.js';
import type { ClipModel } from './model.js';
import { huggingFaceToOpenAi } from './naming.js';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/clip-reference.safetensors', import.meta.url));
const TOLERANCE = 1e-5;

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-clip-ref-'));
const openaiDir = join(dir, 'openai');
const hfDir = join(dir, 'huggingface');
let startTensors = 0;
let configJson = '';
let weightKeys: string[] = [];

/** max |x - r| / max |r|, both as float64 on the JS side. */
function relErr(ours: T.Tensor, ref: T.Tensor): number {
  assert.deepEqual(ours.shape, ref.shape, 'shapes differ');
  const x = ours.toNumbers();
  const r = ref.toNumbers();
  let num = 0;
  let den = 0;
  for (let i = 0; i < r.length; i++) {
    num = Math.max(num, Math.abs(x[i] - r[i]));
    den = Math.max(den, Math.abs(r[i]));
  }
  assert.ok(den > 0.1, 'reference values are too small to be a meaningful check');
  return num / den;
}

/** The fixture's tensors (the caller disposes them). */
function readFixture(prefix: string): Map<string, T.Tensor> {
  const file = T.SafetensorsFile.open(FIXTURE);
  try {
    return new Map(file.keys().filter((k) => k.startsWith(prefix)).map((k) => [k.slice(prefix.length), file.get(k)]));
  } finally {
    file.close();
  }
}

before(() => {
  startTensors = T.memory().tensors;
  const file = T.SafetensorsFile.open(FIXTURE);
  try {
    const config = file.metadata.config;
    assert.ok(config, 'the fixture has no config in its metadata');
    configJson = JSON.stringify({ architectures: ['CLIPModel'], model_type: 'clip', ...JSON.parse(config) }, null, 2);
  } finally {
    file.close();
  }
  // The reference weights, OpenAI naming, as a checkpoint folder.
  const weights = readFixture('weights.');
  weightKeys = [...weights.keys()].sort();
  mkdirSync(openaiDir, { recursive: true });
  T.saveSafetensors(join(openaiDir, 'openai_clip.safetensors'), weights);
  writeFileSync(join(openaiDir, 'config.json'), configJson);
  T.dispose([...weights.values()]);
  // The same model in Hugging Face naming: what our loader made of the OpenAI file.
  const { model, naming } = loadClip(openaiDir);
  assert.equal(naming, 'openai');
  mkdirSync(hfDir, { recursive: true });
  T.saveSafetensors(join(hfDir, 'model.safetensors'), model.stateDict(), { format: 'pt' });
  writeFileSync(join(hfDir, 'config.json'), configJson);
  model.dispose();
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  assert.equal(T.memory().tensors, startTensors, 'tensors leaked by the reference tests');
});

interface Outputs {
  image32: T.Tensor;
  image48: T.Tensor;
  dense32: T.Tensor;
  tap1_32: T.Tensor;
  tap2_32: T.Tensor;
  text: T.Tensor;
  text_tokens: T.Tensor;
}

/** Runs every output the fixture checks; `use` sees them inside one scope. */
function withOutputs<R>(model: ClipModel, use: (ours: Outputs, input: Map<string, T.Tensor>) => R): R {
  const input = readFixture('input.');
  try {
    return T.noGrad(() =>
      T.tidy(() => {
        const eot = input.get('eot')!.toNumbers();
        const at32 = model.encodeImage(input.get('pixels32')!, { taps: [1, 2], dense: true });
        const at48 = model.encodeImage(input.get('pixels48')!);
        const text = model.encodeText(input.get('ids')!, eot);
        assert.deepEqual(at32.grid, [4, 4]);
        assert.deepEqual(at48.grid, [6, 6]);
        return use(
          {
            image32: at32.pooled,
            image48: at48.pooled,
            dense32: at32.dense!,
            tap1_32: at32.taps[0],
            tap2_32: at32.taps[1],
            text: text.pooled,
            text_tokens: text.tokens,
          },
          input,
        );
      }),
    );
  } finally {
    T.dispose([...input.values()]);
  }
}

test('CLIP embeddings, dense maps, taps and text tokens match the PyTorch reference to 1e-5', () => {
  const { model, config } = loadClip(openaiDir);
  try {
    assert.equal(config.vision_config.hidden_size, 32);
    assert.equal(config.projection_dim, 16);
    const errors = withOutputs(model, (ours) => {
      const reference = readFixture('output.');
      try {
        const names = Object.keys(ours) as (keyof Outputs)[];
        assert.deepEqual(names.slice().sort(), [...reference.keys()].sort());
        return Object.fromEntries(names.map((n) => [n, relErr(ours[n], reference.get(n)!)]));
      } finally {
        T.dispose([...reference.values()]);
      }
    });
    const report = Object.entries(errors)
      .map(([n, e]) => `${n} ${e.toExponential(2)}`)
      .join(', ');
    console.log(`max relative error vs the PyTorch reference: ${report}`);
    for (const [name, e] of Object.entries(errors)) assert.ok(e <= TOLERANCE, `${name}: relative error ${e} > ${TOLERANCE}`);
  } finally {
    model.dispose();
  }
});

test('the reference weights in Hugging Face naming give identical outputs', () => {
  const oa = loadClip(openaiDir);
  const hf = loadClip(hfDir);
  try {
    assert.equal(hf.naming, 'huggingface');
    const a = withOutputs(oa.model, (o) => Object.fromEntries(Object.entries(o).map(([k, t]) => [k, (t as T.Tensor).toBuffer()])));
    const b = withOutputs(hf.model, (o) => Object.fromEntries(Object.entries(o).map(([k, t]) => [k, (t as T.Tensor).toBuffer()])));
    for (const k of Object.keys(a)) assert.ok(a[k].equals(b[k]), `${k} differs between namings`);
    // And the conversion back to OpenAI naming reproduces the fixture's weights bit for bit.
    T.tidy(() => {
      const back = huggingFaceToOpenAi(hf.model.stateDict());
      const weights = readFixture('weights.');
      assert.deepEqual([...back.keys()].sort(), weightKeys);
      for (const [k, t] of weights) {
        assert.deepEqual(back.get(k)!.shape, t.shape, k);
        assert.ok(back.get(k)!.toBuffer().equals(t.toBuffer()), `${k} changed in the round trip`);
      }
      T.dispose([...weights.values(), ...back.values()]);
    });
  } finally {
    oa.model.dispose();
    hf.model.dispose();
  }
});

test('position interpolation at the native grid is the identity', () => {
  const { model } = loadClip(openaiDir);
  try {
    T.noGrad(() =>
      T.tidy(() => {
        const emb = model.vision.vision_model.embeddings;
        const stored = emb.position_embedding.weight;
        const native = emb.positions(emb.grid, emb.grid);
        assert.deepEqual(native.shape, stored.shape);
        const diff = native.sub(stored).abs().max().item();
        assert.ok(diff <= 1e-7, `positions(${emb.grid}, ${emb.grid}) differs from the stored grid by ${diff}`);
        // Another size keeps the class position and resizes the rest.
        const resized = emb.positions(6, 6);
        assert.deepEqual(resized.shape, [37, 32]);
        assert.ok(resized.narrow(0, 0, 1).toBuffer().equals(stored.narrow(0, 0, 1).contiguous().toBuffer()));
      }),
    );
  } finally {
    model.dispose();
  }
});
