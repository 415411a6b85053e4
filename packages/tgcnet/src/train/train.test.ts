import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import sharp from 'sharp';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { evaluateRun } from '../eval/run_eval.js';
import { defaultBpePath } from '../paths.js';
import { loadRun } from '../run/checkpoint.js';
import { train } from './train.js';

const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-train-'));
const data = join(dir, 'data');
before(async () => {
  if (!skip) await writeSynthDataset({ out: data, n: 30, seed: 1, size: 64 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { data, preset: 'tiny', epochs: 3, batch: 4, seed: 5, quiet: true, patience: 0 };

function loadRunConfig(run: string): { objective: { textWarmup: number } } {
  return JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).model;
}

function weights(run: string, which: 'last' | 'best' = 'last'): Map<string, Buffer> {
  return T.tidy(() => {
    const w = T.loadSafetensors(join(run, which, 'model.safetensors'));
    const out = new Map([...w].map(([k, t]) => [k, t.toBuffer()]));
    T.dispose([...w.values()]);
    return out;
  });
}

test('a run writes best/ and last/ checkpoints, config and a metrics log', { skip }, async () => {
  const out = join(dir, 'run-a');
  const r = await train({ ...base, out });
  assert.equal(r.stoppedBy, 'epochs');
  assert.equal(r.epochs, 3);
  for (const f of ['config.json', 'metrics.jsonl', 'best/model.safetensors', 'best/metrics.json', 'last/model.safetensors', 'last/optimizer.safetensors', 'last/state.json']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.type === 'epoch').length, 3);
  assert.ok(lines.every((l) => typeof l.val.diceMicro === 'number'));
  const loaded = loadRun(out);
  assert.equal(loaded.run.model.clipTrainable, true, 'no --clip: CLIP is trained');
  loaded.model.dispose();
  await assert.rejects(train({ ...base, out }), /already holds a run: pass --resume/);
});

test('resuming after a stop gives the same weights as an uninterrupted run', { skip }, async () => {
  const straight = join(dir, 'straight');
  const split = join(dir, 'split');
  await train({ ...base, out: straight, maxSteps: 9 });
  const first = await train({ ...base, out: split, maxSteps: 4 });
  assert.equal(first.stoppedBy, 'max-steps');
  const second = await train({ ...base, out: split, resume: true, maxSteps: 5 });
  assert.equal(second.steps, 9);
  const a = weights(straight);
  const b = weights(split);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, buf] of a) assert.ok(buf.equals(b.get(k)!), `${k} differs after resume`);
});

test('the decoded-pixel cache changes speed only: a run with it gives the weights of a run without', { skip }, async () => {
  // 9 steps cross into the second epoch, where the cached cases are read back.
  const cached = await train({ ...base, out: join(dir, 'pixel-cache'), maxSteps: 9 });
  const plain = await train({ ...base, out: join(dir, 'no-pixel-cache'), maxSteps: 9, pixelCacheMb: 0 });
  assert.equal(cached.steps, 9);
  assert.equal(plain.steps, 9);
  const entries = readFileSync(join(dir, 'pixel-cache', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'epoch');
  assert.ok(entries.length >= 1 && entries[0].pixelCache.cases > 0 && entries[0].pixelCache.full === false, JSON.stringify(entries[0]?.pixelCache));
  assert.ok(!readFileSync(join(dir, 'no-pixel-cache', 'metrics.jsonl'), 'utf8').includes('pixelCache'));
  const a = weights(join(dir, 'pixel-cache'));
  const b = weights(join(dir, 'no-pixel-cache'));
  for (const [k, buf] of a) assert.ok(buf.equals(b.get(k)!), `${k} differs with the pixel cache`);
});

test('the text warm-up runs in a fresh run, not again on resume: a resumed run gives the uninterrupted one\'s weights', { skip }, async () => {
  const warm = { ...base, set: ['objective.textWarmup=3'] };
  const straight = join(dir, 'warm-straight');
  const split = join(dir, 'warm-split');
  const cold = join(dir, 'warm-none');
  await train({ ...warm, out: straight, maxSteps: 6 });
  await train({ ...warm, out: split, maxSteps: 3 });
  await train({ ...warm, out: split, resume: true, maxSteps: 3 });
  await train({ ...base, out: cold, maxSteps: 6 });
  const a = weights(straight);
  const b = weights(split);
  for (const [k, buf] of a) assert.ok(buf.equals(b.get(k)!), `${k} differs after resume (the warm-up ran again?)`);
  const c = weights(cold);
  const changed = [...a.keys()].filter((k) => !a.get(k)!.equals(c.get(k)!));
  assert.ok(changed.some((k) => k.startsWith('clip_text.')), 'the warm-up changed the text tower');
  assert.equal(loadRunConfig(straight).objective.textWarmup, 3, 'the run records it');
});

test('a time budget re-estimates the plan after every epoch, and a roomy one keeps the epochs', { skip }, async () => {
  const out = join(dir, 'budget');
  const r = await train({ ...base, out, epochs: 9, maxMinutes: 60 });
  assert.equal(r.stoppedBy, 'epochs');
  const state = JSON.parse(readFileSync(join(out, 'last', 'state.json'), 'utf8'));
  const batchesPerEpoch = state.plan.epochSteps / 9;
  assert.equal(state.plan.totalSteps, state.plan.epochSteps);
  assert.equal(state.plan.sizedBy, 'epochs');
  // The first estimate after 35 steps, then one at the end of every epoch that still had steps to
  // plan (the last epoch's end has none): a machine that slows later is followed, not only in epoch 1.
  const atSteps = state.plan.estimates.map((e: { atStep: number }) => e.atStep);
  const epochEnds = [];
  for (let s = batchesPerEpoch; s < state.plan.epochSteps; s += batchesPerEpoch) if (s >= 35) epochEnds.push(s);
  assert.deepEqual(atSteps, [35, ...epochEnds], JSON.stringify(state.plan));
  assert.ok(epochEnds.length >= 2, `${batchesPerEpoch} batches per epoch`);
});

test('evaluation reads the checkpoint and writes the report and CSV', { skip }, async () => {
  const out = join(dir, 'run-a');
  const report = join(dir, 'report');
  const probs = join(dir, 'probs');
  const r = await evaluateRun({ checkpoint: out, data, split: 'test', report, shufflePrompts: true, saveProbabilities: probs, threshold: 0.4 });
  assert.equal(r.cases, 6);
  assert.equal(r.threshold, 0.4);
  assert.equal(r.surface.tolerance, 2);
  assert.equal(r.surface.spacing, 'pixels');
  assert.equal(r.surface.hd95.cases + r.empty.both + r.empty.truthOnly + r.empty.predictionOnly, 6, 'every case has an HD95 or is counted as empty');
  assert.ok(r.diceCi && r.diceCi.micro[0] <= r.dice.micro && r.dice.micro <= r.diceCi.micro[1]);
  assert.equal(r.perPrompt.reduce((a, p) => a + p.cases, 0), 6);
  assert.ok(r.perZone.length > 0 && r.perZone.every((z) => /^(upper|middle|lower) (left|right)$/.test(z.zone)), JSON.stringify(r.perZone));
  const prob = await sharp(join(probs, `${r.perPrompt.length ? readFileSync(join(report, 'cases.csv'), 'utf8').split('\n')[1].split(',')[0] : ''}_prob.png`)).metadata();
  assert.equal(prob.depth, 'ushort');
  assert.equal(prob.channels, 1);
  assert.ok(r.dice.micro >= 0 && r.dice.micro <= 1);
  assert.ok(r.shuffledPrompts !== undefined);
  const html = readFileSync(join(report, 'index.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /Dice micro/);
  assert.match(readFileSync(join(report, 'cases.csv'), 'utf8'), /^id,prompt,dice,iou,hd95,nsd,/);
  assert.match(html, /HD95 median/);
  assert.match(html, /Per-case Dice \(6 cases\)/);
  assert.match(html, /<h2>By prompt<\/h2>/);
  assert.match(html, /<h2>By lung zone<\/h2>/);
  // Paths are shown relative to where the command ran (../../tmp/...), never from the root.
  assert.doesNotMatch(html, new RegExp(`(^|[^.])${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'no absolute paths in the report');
  assert.equal(T.memory().tensors, 0);
});

test('bad inputs are refused with messages', { skip }, async () => {
  await assert.rejects(train({ ...base, out: join(dir, 'x'), data: join(dir, 'nope') }), /does not exist/);
  if (!T.cuda.isAvailable()) await assert.rejects(train({ ...base, out: join(dir, 'y'), device: 'cuda' }), /sees no CUDA device here/);
  await assert.rejects(evaluateRun({ checkpoint: join(dir, 'nope'), data, split: 'test' }), /does not exist/);
});

test('predict gives the same mask as the evaluation path', { skip }, async () => {
  const { loadImage } = await import('../data/images.js');
  const { openDataset } = await import('../data/detect.js');
  const { segment } = await import('../infer/segment.js');
  const { evaluateCases } = await import('../eval/evaluate.js');
  const run = loadRun(join(dir, 'run-a'));
  const ds = await openDataset(data, { splits: ['test'] });
  const c = ds.cases[0];
  const predicted: Uint8Array[] = [];
  await evaluateCases(run.model, [c], {
    config: run.run.model,
    tokenizer: run.tokenizer,
    batch: 1,
    atOriginalSize: true,
    onPrediction: (_, p) => predicted.push(p),
  });
  const seg = await segment(run, await loadImage(c.image), c.text);
  assert.deepEqual(Array.from(seg.mask), Array.from(predicted[0]));
  run.model.dispose();
});

test('a run folder travels: copied elsewhere it predicts the same masks, with its own tokenizer', { skip }, async () => {
  const { cpSync, readFileSync: read } = await import('node:fs');
  const { loadImage } = await import('../data/images.js');
  const { openDataset } = await import('../data/detect.js');
  const { segment } = await import('../infer/segment.js');
  const original = join(dir, 'run-a');
  const record = JSON.parse(read(join(original, 'config.json'), 'utf8'));
  assert.equal(record.tokenizer, 'tokenizer/bpe_simple_vocab_16e6.txt.gz', 'stored relative to the run');
  const moved = join(dir, 'elsewhere', 'copied-run');
  cpSync(original, moved, { recursive: true });
  const ds = await openDataset(data, { splits: ['test'] });
  const image = await loadImage(ds.cases[0].image);
  const masks: number[][] = [];
  for (const where of [original, moved]) {
    const run = loadRun(where);
    assert.ok(run.runDir.startsWith(where));
    masks.push(Array.from((await segment(run, image, ds.cases[0].text)).mask));
    run.model.dispose();
  }
  assert.deepEqual(masks[1], masks[0]);
  // Without its tokenizer the run names the file and the flag that replaces it.
  rmSync(join(moved, 'tokenizer'), { recursive: true });
  assert.throws(() => loadRun(moved), /its tokenizer .*tokenizer\/bpe_simple_vocab_16e6\.txt\.gz is missing.*--tokenizer/);
  const run = loadRun(moved, { tokenizer: defaultBpePath()! });
  run.model.dispose();
});

test('export: a self-contained folder with a model card that predicts like its run, with a frozen CLIP carried along', { skip }, async () => {
  const { readFileSync: read } = await import('node:fs');
  const { exportRun } = await import('../run/export.js');
  const { writeRandomClip } = await import('../clip/init.js');
  const { loadImage } = await import('../data/images.js');
  const { openDataset } = await import('../data/detect.js');
  const { segment } = await import('../infer/segment.js');
  // A run that froze a (random) pretrained CLIP: its weights live outside the run.
  const clip = join(dir, 'clip-tiny');
  writeRandomClip(clip, { preset: 'tiny', seed: 1, bpePath: defaultBpePath()! });
  const frozen = join(dir, 'run-frozen');
  await train({ ...base, epochs: 1, out: frozen, clip });
  const out = join(dir, 'exported');
  const r = exportRun(frozen, out);
  assert.ok(['README.md', 'best/model.safetensors', 'config.json', 'clip/model.safetensors', 'clip/config.json'].every((f) => r.files.includes(f)), r.files.join(' '));
  assert.match(read(join(out, 'README.md'), 'utf8'), /Not a medical device/);
  assert.equal(JSON.parse(read(join(out, 'config.json'), 'utf8')).clipSource, 'clip');
  rmSync(clip, { recursive: true });
  assert.throws(() => loadRun(frozen), /froze a pretrained CLIP from .*clip-tiny, which is not here.*--clip/);
  const ds = await openDataset(data, { splits: ['test'] });
  const image = await loadImage(ds.cases[0].image);
  const exported = loadRun(out);
  const mask = (await segment(exported, image, ds.cases[0].text)).mask;
  exported.model.dispose();
  const viaClip = loadRun(frozen, { clip: join(out, 'clip') });
  assert.deepEqual(Array.from((await segment(viaClip, image, ds.cases[0].text)).mask), Array.from(mask));
  viaClip.model.dispose();
  assert.throws(() => exportRun(frozen, out), /already exists/);
});
