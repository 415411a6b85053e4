// Fault injection: signals, kills during checkpoint writes, runs that died early, changed
// options on resume, damaged checkpoints. Each asserts the exit status and that nothing
// already saved was lost. Tiny preset, 64-px synthetic data: seconds each.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { defaultBpePath } from '../paths.js';
import { checkWeights, loadRun } from '../run/checkpoint.js';
import { train } from './train.js';

const BIN = fileURLToPath(new URL('../../bin/tgcnet.js', import.meta.url));
const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-faults-'));
const data = join(dir, 'data');
before(async () => {
  if (!skip) await writeSynthDataset({ out: data, n: 30, seed: 1, size: 64 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { data, preset: 'tiny', epochs: 3, batch: 4, seed: 5, quiet: true, patience: 0 };
const cliTrain = (out: string, ...more: string[]) => [BIN, 'train', '--data', data, '--preset', 'tiny', '--batch', '4', '--seed', '5', '--patience', '0', '--out', out, ...more];

const metricLines = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; epoch: number; step: number });
const savedStep = (run: string) => (JSON.parse(readFileSync(join(run, 'last', 'state.json'), 'utf8')) as { globalStep: number }).globalStep;

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => child.on('exit', (code) => done(code)));
}

/** Starts a long CLI run and resolves once its first epoch is logged (a checkpoint exists). */
async function startLongRun(out: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, cliTrain(out, '--epochs', '200'), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(out, 'metrics.jsonl')) || metricLines(out).length === 0) {
    if (child.exitCode !== null) throw new Error(`training exited early: ${err}`);
    if (Date.now() > deadline) throw new Error(`no epoch within 60 s: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stderr: () => err };
}

for (const [signal, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal} mid-run saves last/, exits ${status}, and the run resumes from it`, { skip, timeout: 120_000 }, async () => {
    const out = join(dir, `signal-${signal}`);
    const { child, stderr } = await startLongRun(out);
    await new Promise((r) => setTimeout(r, 300));
    child.kill(signal);
    assert.equal(await exited(child), status, stderr());
    assert.match(stderr(), signal === 'SIGTERM' ? /terminated: saving the last checkpoint/ : /interrupted: saving the last checkpoint/);
    const step = savedStep(out);
    assert.ok(step > 0);
    const lines = metricLines(out);
    assert.ok(lines.every((l) => l.step <= step), 'no line describes work the checkpoint does not hold');
    const epochs = lines.filter((l) => l.type === 'epoch').map((l) => l.epoch);
    assert.deepEqual(epochs, [...new Set(epochs)]);
    // Options not typed again come from the run (epochs 200, augment on, lr by preset).
    const resumed = await train({ data, out, preset: 'tiny', epochs: 200, batch: 4, seed: 5, quiet: true, resume: true, maxSteps: 2, explicit: ['data', 'preset', 'batch', 'seed'] });
    assert.equal(resumed.steps, step + 2);
  });
}

test('kill -9 at any point of a checkpoint write loses nothing already saved', { skip, timeout: 120_000 }, async () => {
  const out = join(dir, 'kill9');
  const { child } = await startLongRun(out);
  // While it runs, a second training into the same folder is refused, touching nothing.
  await assert.rejects(train({ ...base, epochs: 200, out, resume: true, maxSteps: 1 }), new RegExp(`is in use by another training \\(process ${child.pid}\\)`));
  child.kill('SIGKILL');
  assert.equal(await exited(child), null);
  // Whatever moment it hit, the run resumes from a checkpoint that loads (its lock is stale now).
  assert.ok(existsSync(join(out, '.lock')));
  const step = savedStep(out);
  const resumed = await train({ ...base, epochs: 200, out, resume: true, maxSteps: 1, explicit: ['data', 'preset', 'batch', 'seed', 'epochs'] });
  assert.equal(resumed.steps, step + 1);

  // The two windows a kill can hit, made exactly: a half-written new folder beside the old
  // one, and the moment between moving the old one aside and the new one into place.
  const before = savedStep(out);
  mkdirSync(join(out, '.last.tmp-4242'));
  writeFileSync(join(out, '.last.tmp-4242', 'model.safetensors'), 'half');
  renameSync(join(out, 'last'), join(out, '.last.old-4242'));
  writeFileSync(join(out, 'config.json.tmp-4242'), '{');
  const again = await train({ ...base, epochs: 200, out, resume: true, maxSteps: 1, explicit: ['data', 'preset', 'batch', 'seed', 'epochs'] });
  assert.equal(again.steps, before + 1, 'resumed from the checkpoint that was moved aside');
  for (const left of ['.last.tmp-4242', '.last.old-4242', 'config.json.tmp-4242']) assert.ok(!existsSync(join(out, left)), `${left} cleaned up`);
});

test('a full disk during a checkpoint write: exit 1 with a sentence, the previous checkpoint intact, and resume works', { skip, timeout: 120_000 }, async () => {
  const out = join(dir, 'full');
  await train({ ...base, out, epochs: 1 });
  const saved = readFileSync(join(out, 'last', 'model.safetensors'));
  // RLIMIT_FSIZE stands in for a full disk: a write past it fails (EFBIG, as ENOSPC would),
  // with SIGXFSZ ignored so the process sees the error instead of dying of the signal.
  const blocks = Math.floor(saved.length / 1024 / 2);
  const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f ${blocks}; exec "$0" "$@"`, process.execPath, ...cliTrain(out, '--epochs', '2', '--resume', '--override', 'epochs')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot write the (best|last)\/ checkpoint in .*: the file size limit was reached; the previous (best|last)\/ is intact\. Free space, then continue with --resume/);
  assert.ok(readFileSync(join(out, 'last', 'model.safetensors')).equals(saved), 'last/ untouched');
  assert.equal(savedStep(out), 5);
  const again = await train({ ...base, out, epochs: 2, resume: true, override: ['epochs'] });
  assert.equal(again.steps, 10);
  assert.deepEqual(metricLines(out).filter((l) => l.type === 'epoch').map((l) => l.epoch), [1, 2]);
});

test('a run that died before its first checkpoint can be started again, with or without --resume', { skip }, async () => {
  const out = join(dir, 'early');
  await train({ ...base, out, maxSteps: 1, epochs: 1 });
  // What a crash in the first epoch leaves: config.json and nothing else.
  rmSync(join(out, 'last'), { recursive: true });
  rmSync(join(out, 'best'), { recursive: true });
  const r1 = await train({ ...base, out, epochs: 1, maxSteps: 1 });
  assert.equal(r1.steps, 1);
  rmSync(join(out, 'last'), { recursive: true });
  rmSync(join(out, 'best'), { recursive: true });
  const r2 = await train({ ...base, out, epochs: 1, maxSteps: 1, resume: true });
  assert.equal(r2.steps, 1);
});

test('--resume refuses options that break exact resume, and --override applies them on the record', { skip }, async () => {
  const out = join(dir, 'changed');
  await train({ ...base, out, maxSteps: 2 });
  await assert.rejects(train({ ...base, out, batch: 2, resume: true }), /--resume: the run was trained with --batch 4 \(now --batch 2\).*--override/s);
  await assert.rejects(train({ ...base, out, preset: 'small', seed: 6, resume: true }), /--preset tiny \(now --preset small\), --seed 5 \(now --seed 6\)/);
  await assert.rejects(train({ ...base, out, resume: true, override: ['colour'] }), /--override colour: not an option resume checks/);
  // Untyped options come from the run, free ones included: a recorded patience survives a resume.
  const { reconcileResumeOptions } = await import('./resume_options.js');
  const recorded = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  const withPatience = { ...recorded, train: { ...recorded.train, patience: 100 } };
  assert.equal(reconcileResumeOptions(withPatience, { ...base, out, patience: 10, resume: true }, new Set(['data', 'out', 'resume']), []).options.patience, 100);
  assert.equal(reconcileResumeOptions(withPatience, { ...base, out, patience: 5, resume: true }, new Set(['data', 'out', 'resume', 'patience']), []).options.patience, 5, 'typed: changed without --override');
  const r = await train({ ...base, out, epochs: 4, resume: true, override: ['epochs'], maxSteps: 1 });
  assert.equal(r.steps, 3);
  const record = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(record.train.epochs, 4);
  assert.deepEqual(record.resumeOverrides, [{ step: 2, changed: { epochs: 4 } }]);
  await train({ ...base, out, epochs: 4, resume: true, patience: 7, maxSteps: 1 });
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.patience, 7, 'the patience in force is recorded');
});

test('resume makes metrics.jsonl agree with last/: no duplicated epoch, no lost line', { skip }, async () => {
  const out = join(dir, 'metrics');
  await train({ ...base, out, epochs: 2 });
  const step = savedStep(out);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  // Killed after the checkpoint, before its line: the last line is missing; a line from a
  // later, never-saved epoch and a line cut mid-write are there instead.
  writeFileSync(join(out, 'metrics.jsonl'), `${lines.slice(0, -1).join('\n')}\n${JSON.stringify({ type: 'epoch', epoch: 3, step: step + 5 })}\n{"type":"ep`);
  await train({ ...base, out, epochs: 3, resume: true, override: ['epochs'] });
  const after = metricLines(out).filter((l) => l.type === 'epoch');
  assert.deepEqual(after.map((l) => l.epoch), [1, 2, 3]);
  assert.equal(after[1].step, step);
});

test('checkpoints with NaN, integer or unknown content are refused with the thing named', { skip }, async () => {
  const src = join(dir, 'src-run');
  await train({ ...base, out: src, epochs: 1 });
  const damaged = (name: string, edit: (w: Map<string, T.Tensor>) => void, editConfig?: (c: Record<string, any>) => void) => {
    const out = join(dir, name);
    cpSync(src, out, { recursive: true });
    for (const which of ['best', 'last']) {
      const file = join(out, which, 'model.safetensors');
      T.tidy(() => {
        const w = T.loadSafetensors(file);
        edit(w);
        T.saveSafetensors(file, w);
      });
    }
    if (editConfig) {
      const c = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      editConfig(c);
      writeFileSync(join(out, 'config.json'), JSON.stringify(c));
    }
    return out;
  };
  const firstFloat = (w: Map<string, T.Tensor>) => [...w].find(([, t]) => t.dtype === 'float32')!;
  let key = '';
  const nan = damaged('nan', (w) => {
    const [k, t] = firstFloat(w);
    key = k;
    w.set(k, t.mul(Number.NaN));
  });
  assert.throws(() => loadRun(nan), new RegExp(`tensor '${key.replace(/\./g, '\\.')}' holds NaN or infinite values`));
  const ints = damaged('int64', (w) => {
    const [k, t] = firstFloat(w);
    w.set(k, t.long());
  });
  assert.throws(() => loadRun(ints), /is int64 but the model holds float32/);
  const extra = damaged('extra-field', () => {}, (c) => {
    c.model.decoder.lexicalBuckets = 64;
  });
  assert.throws(() => loadRun(extra), /decoder: Unrecognized key.*lexicalBuckets/);
  const preset = damaged('bad-preset', () => {}, (c) => {
    c.train.preset = 'huge';
  });
  assert.throws(() => loadRun(preset), /train\.preset: unknown preset/);
  const top = damaged('top-field', () => {}, (c) => {
    c.extra = 1;
    c.train.colour = 'red';
  });
  assert.throws(() => loadRun(top), /Unrecognized key.*extra/s);
  assert.equal(T.memory().tensors, 0);
});

test('a float of another width is cast, and the cast is said', () => {
  T.tidy(() => {
    const own = new Map([['w', T.zeros([2])], ['n', T.zeros([1]).long()]]);
    const warnings: string[] = [];
    checkWeights(new Map([['w', T.ones([2]).double()], ['n', T.zeros([1]).long()]]), own, 'x.safetensors', (m) => warnings.push(m));
    assert.deepEqual(warnings, ['x.safetensors: casting 1 tensor(s) float64 -> float32 (first: w)']);
    assert.throws(() => checkWeights(new Map([['w', T.tensor([1, Number.POSITIVE_INFINITY])]]), own, 'x.safetensors', () => {}), /'w' holds NaN or infinite/);
  });
});

test('a truncated mask and a 0/100 mask: train exits 1 naming both before any step; --skip-bad trains on the rest', { skip, timeout: 120_000 }, async () => {
  const bad = join(dir, 'bad-data');
  cpSync(data, bad, { recursive: true });
  const masks = join(bad, 'Train_Folder', 'labelcol');
  const names = readdirSync(masks).sort();
  const truncated = join(masks, names[0]);
  writeFileSync(truncated, readFileSync(truncated).subarray(0, 60));
  const faint = join(masks, names[1]);
  const { data: px, info } = await sharp(faint).greyscale().raw().toBuffer({ resolveWithObject: true });
  await sharp(Buffer.from(px.map((v) => (v > 127 ? 100 : 0))), { raw: { width: info.width, height: info.height, channels: 1 } }).png().toFile(`${faint}.tmp.png`);
  renameSync(`${faint}.tmp.png`, faint);
  const out = join(dir, 'bad-run');
  const r = spawnSync(process.execPath, [BIN, 'train', '-d', bad, '-o', out, '--preset', 'tiny', '--batch', '4', '--epochs', '1'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`(unreadable|cannot read) mask .*${names[0].replace('.', '\\.')}`));
  assert.match(r.stderr, /mask values \{0, 100\} are not 0\/255 or 0\/1: read as foreground where > 127, that is an empty mask/);
  assert.ok(!existsSync(join(out, 'last')), 'no step was taken');
  const skipped = spawnSync(process.execPath, [BIN, 'train', '-d', bad, '-o', out, '--preset', 'tiny', '--batch', '4', '--epochs', '1', '--skip-bad'], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.match(skipped.stderr, /skipping 2 bad case\(s\)/);
});

test('options a run could not record are refused before any work; outputs that would destroy inputs or the run are refused', { skip, timeout: 120_000 }, async () => {
  for (const args of [['--max-minutes', '-3'], ['--max-minutes', '0'], ['--weight-decay', '-1'], ['--lr', 'abc'], ['--device', 'tpu'], ['--preset', 'huge']]) {
    const r = spawnSync(process.execPath, [BIN, 'train', '-d', data, '-o', join(dir, 'never'), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.equal(spawnSync(process.execPath, [BIN, 'train', '-d', data, '-o', ''], { encoding: 'utf8' }).status, 2, '-o "" is not "here"');
  assert.ok(!existsSync(join(dir, 'never')));
  await assert.rejects(train({ ...base, out: join(dir, 'never'), maxMinutes: -3 }), /invalid training options: maxMinutes/);
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  const r = spawnSync(process.execPath, [BIN, 'train', '-d', data, '-o', file, '--preset', 'tiny'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /plain-file is a file, not a folder/);

  // eval would write over the run it evaluates; predict over its input.
  const run = join(dir, 'src-run');
  if (!existsSync(run)) await train({ ...base, out: run, epochs: 1 });
  const config = readFileSync(join(run, 'config.json'));
  const ev = spawnSync(process.execPath, [BIN, 'eval', '-c', run, '-d', data, '--csv', join(run, 'config.json')], { encoding: 'utf8' });
  assert.equal(ev.status, 1);
  assert.match(ev.stderr, /--csv .* would write over .*config\.json, part of the run being evaluated/);
  assert.ok(readFileSync(join(run, 'config.json')).equals(config), 'the run is intact');
  const img = join(dir, 'in.png');
  await sharp(Buffer.alloc(64 * 64, 90), { raw: { width: 64, height: 64, channels: 1 } }).png().toFile(img);
  const same = spawnSync(process.execPath, [BIN, 'predict', '-c', run, '-i', img, '-t', 'lesion', '-o', img], { encoding: 'utf8' });
  assert.equal(same.status, 1);
  assert.match(same.stderr, /is the input image: the mask would replace it/);
  // Through a symlink too, and never into the dataset.
  symlinkSync(join(run, 'config.json'), join(dir, 'link.csv'));
  const viaLink = spawnSync(process.execPath, [BIN, 'eval', '-c', run, '-d', data, '--csv', join(dir, 'link.csv')], { encoding: 'utf8' });
  assert.equal(viaLink.status, 1);
  assert.match(viaLink.stderr, /would write over .*config\.json/);
  assert.ok(readFileSync(join(run, 'config.json')).equals(config), 'the run is intact');
  const intoData = spawnSync(process.execPath, [BIN, 'eval', '-c', run, '-d', data, '--csv', join(data, 'Test_Folder', 'x.csv')], { encoding: 'utf8' });
  assert.equal(intoData.status, 1);
  assert.match(intoData.stderr, /is inside the dataset/);
  const overlay = spawnSync(process.execPath, [BIN, 'predict', '-c', run, '-i', img, '-t', 'lesion', '-o', join(dir, 'm.png'), '--overlay', join(dir, 'm.png')], { encoding: 'utf8' });
  assert.equal(overlay.status, 1);
  assert.match(overlay.stderr, /--overlay .* is the mask's own file/);
  // A run folder is a run's alone.
  mkdirSync(join(dir, 'stuff'), { recursive: true });
  writeFileSync(join(dir, 'stuff', 'notes.txt'), 'mine');
  for (const [outDir, why] of [[join(data, 'runs', 'x'), /overlaps the dataset/], [join(run, 'sub'), /is inside the run/], [join(dir, 'stuff'), /already holds other files \(notes\.txt\)/]] as const) {
    const r2 = spawnSync(process.execPath, [BIN, 'train', '-d', data, '-o', outDir, '--preset', 'tiny'], { encoding: 'utf8' });
    assert.equal(r2.status, 1, `${outDir}: ${r2.stderr}`);
    assert.match(r2.stderr, why);
  }
  const folder = join(data, 'Test_Folder', 'img');
  const inside = spawnSync(process.execPath, [BIN, 'predict', '-c', run, '-i', folder, '-t', 'lesion', '-o', join(folder, 'masks')], { encoding: 'utf8' });
  assert.equal(inside.status, 1);
  assert.match(inside.stderr, /inside the input folder/);
});

test('every mask empty: train refuses even with --skip-bad (a bad dataset, not bad cases)', { skip, timeout: 60_000 }, async () => {
  const empty = join(dir, 'empty-data');
  cpSync(data, empty, { recursive: true });
  for (const split of ['Train_Folder', 'Val_Folder', 'Test_Folder']) {
    const masks = join(empty, split, 'labelcol');
    for (const name of readdirSync(masks)) await sharp(Buffer.alloc(64 * 64), { raw: { width: 64, height: 64, channels: 1 } }).png().toFile(join(masks, name));
  }
  const r = spawnSync(process.execPath, [BIN, 'train', '-d', empty, '-o', join(dir, 'empty-run'), '--preset', 'tiny', '--skip-bad'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /every one of the \d+ masks is empty.*--skip-bad leaves out bad cases, not a bad dataset/);
});

test('--out where no folder can be made fails at once, before the data is read', { skip }, () => {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'train', '--data', join(dir, 'no-such-data'), '--out', '/proc/tgcnet-run'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot create the run folder \/proc\/tgcnet-run/);
  assert.ok(Date.now() - t0 < 30_000);
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const r2 = spawnSync(process.execPath, [BIN, 'train', '--data', data, '--out', join(file, 'run')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /a-file is a file, not a folder/);
});
