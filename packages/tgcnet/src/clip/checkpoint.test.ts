import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { clipPreset } from './config.js';
import { inferClipConfig, loadClip, loadClipText, loadClipVision } from './checkpoint.js';
import { writeRandomClip } from './init.js';
import { huggingFaceToOpenAi, openAiToHuggingFace } from './naming.js';

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-clip-'));
const ckpt = join(dir, 'tiny');
before(() => writeRandomClip(ckpt, { preset: 'tiny', seed: 5, bpePath: null, openAiCopy: true }));
after(() => rmSync(dir, { recursive: true, force: true }));

function embeddings(path: string): { image: number[]; text: number[] } {
  const { model } = loadClip(path);
  try {
    return T.noGrad(() =>
      T.tidy(() => {
        T.manualSeed(11);
        const pixels = T.randn([2, 3, 32, 32]);
        const ids = T.tensor([[49406, 320, 1125, 49407, ...new Array(73).fill(0)]], { dtype: 'int64' });
        return { image: model.encodeImage(pixels).pooled.toNumbers(), text: model.encodeText(ids, [3]).pooled.toNumbers() };
      }),
    );
  } finally {
    model.dispose();
  }
}

test('the same weights in Hugging Face and OpenAI naming give the same embeddings', () => {
  const start = T.memory().tensors;
  const hf = embeddings(ckpt);
  const oa = embeddings(join(ckpt, 'openai_clip.safetensors'));
  assert.deepEqual(oa.image, hf.image);
  assert.deepEqual(oa.text, hf.text);
  assert.equal(T.memory().tensors, start);
});

test('naming conversion round-trips exactly', () => {
  T.tidy(() => {
    const state = T.loadSafetensors(join(ckpt, 'model.safetensors'));
    const back = openAiToHuggingFace(huggingFaceToOpenAi(state)).state;
    assert.deepEqual([...back.keys()].sort(), [...state.keys()].sort());
    for (const [k, t] of state) assert.ok(t.toBuffer().equals(back.get(k)!.toBuffer()), k);
    T.dispose([...state.values()]);
  });
});

test('config inferred from shapes matches the preset (OpenAI heads rule aside)', () => {
  T.tidy(() => {
    const state = T.loadSafetensors(join(ckpt, 'openai_clip.safetensors'));
    const shapes = new Map([...state].map(([k, t]) => [k, [...t.shape]]));
    const inferred = inferClipConfig(shapes, 'openai', 'test');
    const preset = clipPreset('tiny');
    assert.equal(inferred.vision_config.hidden_size, preset.vision_config.hidden_size);
    assert.equal(inferred.vision_config.patch_size, 8);
    assert.equal(inferred.vision_config.image_size, 32);
    assert.equal(inferred.vision_config.num_hidden_layers, 2);
    assert.equal(inferred.text_config.max_position_embeddings, 77);
    assert.equal(inferred.projection_dim, 16);
    T.dispose([...state.values()]);
  });
});

test('one tower loads alone, with only its own keys', () => {
  const v = loadClipVision(ckpt);
  const t = loadClipText(join(ckpt, 'openai_clip.safetensors'));
  assert.ok([...v.model.stateDict().keys()].every((k) => k.startsWith('vision_model.') || k.startsWith('visual_projection.')));
  assert.ok([...t.model.stateDict().keys()].every((k) => k.startsWith('text_model.') || k.startsWith('text_projection.')));
  assert.equal(v.model.training, false);
  v.model.dispose();
  t.model.dispose();
});

test('a missing, extra or mis-shaped key is an error that lists them', () => {
  T.tidy(() => {
    const state = T.loadSafetensors(join(ckpt, 'model.safetensors'));
    state.delete('vision_model.post_layernorm.bias');
    state.set('vision_model.extra.weight', T.zeros([2]));
    state.set('text_projection.weight', T.zeros([3, 32]));
    const bad = join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    copyFileSync(join(ckpt, 'config.json'), join(bad, 'config.json'));
    T.saveSafetensors(join(bad, 'model.safetensors'), state);
    assert.throws(
      () => loadClip(bad),
      (err: Error) =>
        /missing keys \(1\): vision_model.post_layernorm.bias/.test(err.message) &&
        /unexpected keys \(1\): vision_model.extra.weight/.test(err.message) &&
        /shape mismatch for text_projection.weight: the model has \[16, 32\], the checkpoint \[3, 32\]/.test(err.message),
    );
    T.dispose([...state.values()]);
  });
});

test('bad folders and configs say what is wrong', () => {
  assert.throws(() => loadClip(join(dir, 'nope')), /does not exist/);
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  assert.throws(() => loadClip(empty), /expected model.safetensors/);
  const badCfg = join(dir, 'badcfg');
  mkdirSync(badCfg, { recursive: true });
  copyFileSync(join(ckpt, 'model.safetensors'), join(badCfg, 'model.safetensors'));
  writeFileSync(join(badCfg, 'config.json'), JSON.stringify({ ...clipPreset('tiny'), projection_dim: 'x' }));
  assert.throws(() => loadClip(badCfg), /config.json: not a usable CLIP config: projection_dim/);
});

test('vision tower: any multiple of the patch; taps and dense maps as [B, C, h, w]', () => {
  const { model } = loadClip(ckpt);
  T.noGrad(() =>
    T.tidy(() => {
      const out = model.encodeImage(T.randn([1, 3, 48, 40]), { taps: [1, 2], dense: true });
      assert.deepEqual(out.grid, [6, 5]);
      assert.deepEqual(out.taps.map((t) => t.shape), [[1, 32, 6, 5], [1, 32, 6, 5]]);
      assert.deepEqual(out.dense!.shape, [1, 16, 6, 5]);
      assert.deepEqual(out.pooled.shape, [1, 16]);
      assert.throws(() => model.encodeImage(T.randn([1, 3, 30, 32])), /multiples of the patch 8/);
      assert.throws(() => model.encodeImage(T.randn([1, 3, 32, 32]), { taps: [3] }), /blocks are numbered 1..2/);
    }),
  );
  model.dispose();
});
