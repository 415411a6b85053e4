import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { AlignmentMode, EncoderMode, TextMode, buildConfig } from './config.js';
import { randomInputs } from './testing.js';
import { TgcNet, composePrompt, parameterReport } from './tgcnet.js';

function forwardBackward(model: TgcNet, inputs: ReturnType<typeof randomInputs>): T.Tensor {
  return T.tidy(() => {
    const { logits, textLoss } = model.forwardTrain(inputs);
    const loss = logits.square().mean();
    (textLoss ? loss.add(textLoss) : loss).backward();
    return logits.detach();
  });
}

test('shapes through every stage for two input sizes; logits at the label size', () => {
  for (const [vit, cnn, label] of [[32, 64, [64, 64]], [48, 96, [50, 70]]] as const) {
    T.tidy(() => {
      T.manualSeed(0);
      const config = buildConfig('tiny', [`vitInput=${vit}`, `cnnInput=${cnn}`]);
      const model = new TgcNet(config);
      const inputs = randomInputs(config, 2, [label[0], label[1]]);
      const cnnMaps = model.cnn!.forward(inputs.cnnPixels!);
      assert.deepEqual(cnnMaps.map((m) => m.shape[2]), [cnn / 4, cnn / 8, cnn / 16, cnn / 32]);
      const vision = model.clip_vision!.forward(inputs.vitPixels!, { taps: config.vitTaps, dense: true });
      assert.deepEqual(vision.taps[0].shape, [2, 32, vit / 8, vit / 8]);
      const pyramid = model.sse.forward(cnnMaps.slice(1), vision.taps);
      assert.deepEqual(pyramid.map((p) => p.shape), [[2, 16, cnn / 8, cnn / 8], [2, 16, cnn / 16, cnn / 16], [2, 16, cnn / 32, cnn / 32]]);
      const joint = model.date.forward(model.textFeatures(inputs.text), model.textFeatures(inputs.aux!), T.tensor([1, 0]));
      assert.deepEqual(joint.pooled.shape, [2, 16]);
      assert.deepEqual(joint.tokens!.shape, [2, 154, 16]);
      const calibrated = model.vlcm!.forward(pyramid, joint);
      assert.deepEqual(calibrated.levels.map((l) => l.shape), pyramid.map((p) => p.shape));
      assert.deepEqual(model.forward(inputs).shape, [2, 1, label[0], label[1]]);
      model.dispose();
    });
  }
});

for (const set of [[], ['decoder.outputStride=2'], ['decoder.outputStride=2', 'encoder=vit-only']]) test(`gradients reach every trainable parameter and no frozen CLIP weight; handles stay flat (${set.join(' ') || 'tiny'})`, () => {
  T.manualSeed(1);
  const config = buildConfig('tiny', set);
  const model = new TgcNet(config).train();
  const inputs = randomInputs(config, 2);
  forwardBackward(model, inputs).dispose();
  const start = T.memory().tensors;
  for (let i = 0; i < 3; i++) {
    for (const p of model.parameters()) p.grad = null;
    forwardBackward(model, inputs).dispose();
  }
  assert.equal(T.memory().tensors, start, 'live tensors across forward/backward');
  const missing = [...model.namedParameters()].filter(([, p]) => p.requiresGrad && p.grad === null).map(([k]) => k);
  assert.deepEqual(missing, []);
  const frozen = [...model.namedParameters()].filter(([k]) => k.startsWith('clip_'));
  assert.ok(frozen.length > 0 && frozen.every(([, p]) => !p.requiresGrad && p.grad === null));
  assert.equal(model.clip_vision!.training, false, 'frozen CLIP stays in eval mode');
  assert.equal(model.decoder.up2 !== null, config.decoder.outputStride === 2);
  T.dispose(inputs);
  model.dispose();
});

test('vit-finetune trains the vision tower; the text tower stays frozen', () => {
  T.manualSeed(2);
  const config = buildConfig('tiny', ['encoder=vit-finetune']);
  const model = new TgcNet(config).train();
  const inputs = randomInputs(config, 1);
  forwardBackward(model, inputs).dispose();
  const vision = [...model.clip_vision!.namedParameters()];
  // The final LayerNorm feeds the dense tokens, the projection feeds pooled only via dense.
  assert.ok(vision.filter(([, p]) => p.grad !== null).length > vision.length / 2);
  assert.ok([...model.clip_text.namedParameters()].every(([, p]) => p.grad === null));
  T.dispose(inputs);
  model.dispose();
});

test('same seed, same inputs -> identical outputs', () => {
  const run = () =>
    T.tidy(() => {
      T.manualSeed(42);
      const config = buildConfig('tiny', ['dropout=0.1']);
      const model = new TgcNet(config).train();
      T.manualSeed(7);
      const out = model.forward(randomInputs(config, 2)).toNumbers();
      model.dispose();
      return out;
    });
  assert.deepEqual(run(), run());
});

test('every ablation combination builds, runs forward and backward, and reports its parameters', () => {
  const counts = new Map<string, number>();
  const flags = [true, false];
  T.manualSeed(3);
  for (const encoder of EncoderMode.options) {
    for (const text of TextMode.options) {
      for (const alignment of AlignmentMode.options) {
        for (const sse of flags) {
          for (const date of flags) {
            for (const vlcm of flags) {
              const set = [`encoder=${encoder}`, `text=${text}`, `alignment=${alignment}`, `modules.sse=${sse}`, `modules.date=${date}`, `modules.vlcm=${vlcm}`];
              T.tidy(() => {
                const config = buildConfig('tiny', set);
                const model = new TgcNet(config).train();
                const logits = forwardBackward(model, randomInputs(config, 1, [16, 16]));
                assert.deepEqual(logits.shape, [1, 1, 16, 16], set.join(' '));
                const missing = [...model.namedParameters()].filter(([, p]) => p.requiresGrad && p.grad === null).map(([k]) => k);
                assert.deepEqual(missing, [], `${set.join(' ')}: parameters without gradient`);
                counts.set(set.join(' '), parameterReport(model).trainableExcludingClip);
                model.dispose();
              });
            }
          }
        }
      }
    }
  }
  assert.equal(counts.size, 4 * 4 * 3 * 8);
  const base = counts.get('encoder=hybrid text=aux-injection alignment=gated modules.sse=true modules.date=true modules.vlcm=true')!;
  assert.ok(counts.get('encoder=hybrid text=aux-injection alignment=gated modules.sse=false modules.date=true modules.vlcm=true')! < base);
  assert.ok(counts.get('encoder=hybrid text=main-only alignment=gated modules.sse=true modules.date=true modules.vlcm=true')! < base);
  assert.ok(counts.get('encoder=hybrid text=aux-injection alignment=none modules.sse=true modules.date=true modules.vlcm=true')! < base);
});

test('the paper preset has 10.3M +- 10% trainable parameters outside CLIP', () => {
  const model = new TgcNet(buildConfig('paper'));
  const r = parameterReport(model);
  model.dispose();
  assert.ok(r.trainableExcludingClip > 10.3e6 * 0.9 && r.trainableExcludingClip < 10.3e6 * 1.1, `${r.trainableExcludingClip}`);
  assert.equal(r.modules.clip_vision.trainable + r.modules.clip_text.trainable, 0);
  assert.ok(r.modules.clip_vision.total > 300e6, 'ViT-L/14');
});

test('frozen text features are computed once per unique prompt', () => {
  T.tidy(() => {
    const config = buildConfig('tiny');
    const model = new TgcNet(config);
    const inputs = randomInputs(config, 2);
    T.noGrad(() => model.forward(inputs));
    const misses = model.textCache.misses;
    T.noGrad(() => model.forward(inputs));
    assert.equal(model.textCache.misses, misses, 'second pass hits the cache');
    assert.equal(model.textCache.size, 4);
    model.dispose();
  });
});

test('missing auxiliary prompts are defined: no injection for those cases', () => {
  T.tidy(() => {
    T.manualSeed(4);
    const config = buildConfig('tiny');
    const model = new TgcNet(config).eval();
    const inputs = randomInputs(config, 2);
    const none = T.noGrad(() => model.forward({ ...inputs, auxPresent: [false, false] }));
    const noAux = T.noGrad(() => model.forward({ ...inputs, aux: null }));
    // Without aux the text vector is the projected primary alone; the VLCM still sees
    // the (masked-out) aux slots only through padding, so both agree closely.
    assert.ok(none.sub(noAux).abs().max().item() < 1e-4);
    assert.deepEqual(composePrompt(config, 'p', null), { primary: 'p', aux: null });
    assert.deepEqual(composePrompt(buildConfig('tiny', ['text=llm-expanded']), 'p', 'a'), { primary: 'p a', aux: null });
    assert.deepEqual(composePrompt(buildConfig('tiny', ['text=none']), 'p', 'a'), { primary: '', aux: null });
    model.dispose();
  });
});

test('configs are validated with messages', () => {
  assert.throws(() => buildConfig('huge'), /unknown preset 'huge'/);
  assert.throws(() => buildConfig('tiny', ['encoder=both']), /encoder: Invalid option/);
  assert.throws(() => buildConfig('tiny', ['vitTaps=[1,2,9]']), /tap 9 is past the CLIP vision tower's 2 blocks/);
  assert.throws(() => buildConfig('tiny', ['cnnInput=70']), /multiple of 32/);
  assert.throws(() => buildConfig('tiny', ['sse']), /expected key=value/);
});
