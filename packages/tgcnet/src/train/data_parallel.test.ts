// Data-parallel training on c10d/Gloo over loopback: `tgcnet train --nproc-per-node 2` against
// one process with the same global batch; a rank that dies; a 2-rank run stopped and resumed.
// Tiny preset, 64-px synthetic data, one libtorch thread per rank.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { defaultBpePath } from '../paths.js';

const BIN = fileURLToPath(new URL('../../bin/tgcnet.js', import.meta.url));
const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : !T.distributed.available() ? 'the addon was built without Gloo (apt-get install libgloo-dev, then npm run build:native)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-ddp-'));
const data = join(dir, 'data');
before(async () => {
  // 84 training cases: 10 steps of 8 per epoch (the last 4 dropped), 2 epochs = 20 steps.
  if (!skip) await writeSynthDataset({ out: data, n: 120, seed: 1, size: 64 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

// With a short text warm-up, as the small preset runs one: every rank must warm up alike.
const trainArgs = (out: string, ...more: string[]) => [BIN, 'train', '--data', data, '--preset', 'tiny', '--set', 'objective.textWarmup=3', '--epochs', '2', '--batch', '8', '--no-augment', '--seed', '4', '--patience', '0', '--threads', '1', '--out', out, ...more];

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function weights(runDir: string): Map<string, T.Tensor> {
  return T.loadSafetensors(join(runDir, 'last', 'model.safetensors'));
}

/**
 * How far two sets of weights are apart: ||a - b|| / ||a|| over all of them (Frobenius norms), the
 * largest element difference, and the tensor that holds it.
 */
function weightDifference(a: Map<string, T.Tensor>, b: Map<string, T.Tensor>): { relative: number; absolute: number; key: string } {
  let diffSq = 0;
  let normSq = 0;
  let worst = { absolute: 0, key: '' };
  for (const [key, t] of a) {
    const [d2, n2, absolute] = T.tidy(() => {
      const d = t.sub(b.get(key)!);
      return [d.square().sum().item(), t.square().sum().item(), d.abs().max().item()];
    });
    diffSq += d2;
    normSq += n2;
    if (absolute > worst.absolute) worst = { absolute, key };
  }
  return { relative: Math.sqrt(diffSq / normSq), ...worst };
}

function disposeAll(...maps: Map<string, T.Tensor>[]): void {
  for (const m of maps) for (const t of m.values()) t.dispose();
}

test('2 processes train as one with the same global batch; every rank ends with the same weights', { skip, timeout: 180_000 }, async () => {
  const one = join(dir, 'one');
  const two = join(dir, 'two');
  const single = run(trainArgs(one, '--json'));
  assert.equal(single.status, 0, single.stderr);
  const parallel = run(trainArgs(two, '--json', '--nproc-per-node', '2', '--master-port', String(await freePort())));
  assert.equal(parallel.status, 0, parallel.stderr);
  // Rank 0 alone reports; the ranks' weights were compared (sha256, by all-reduce) at the end.
  const lines = parallel.stdout.trim().split('\n');
  assert.equal(lines.length, 1, parallel.stdout);
  const result = JSON.parse(lines[0]) as { steps: number; ranks?: { worldSize: number; weightsSha256: string } };
  assert.equal(result.steps, 20);
  assert.equal(result.ranks?.worldSize, 2);
  assert.match(parallel.stderr, /the weights are identical on every rank/);
  const config = JSON.parse(readFileSync(join(two, 'config.json'), 'utf8')) as { train: { worldSize?: number } };
  assert.equal(config.train.worldSize, 2);
  // The same 20 steps to summation order: losses equal to 1e-5, weights close. (AdamW divides each
  // gradient by its own scale, so a parameter whose gradient is ~0 moves by rounding noise x lr.)
  const losses = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { trainLoss: number }).trainLoss);
  losses(one).forEach((l, i) => assert.ok(Math.abs(l - losses(two)[i]) < 1e-5 * Math.abs(l), `epoch ${i + 1} loss ${l} vs ${losses(two)[i]}`));
  const [a, b] = [weights(one), weights(two)];
  const diff = weightDifference(a, b);
  disposeAll(a, b);
  // Summation order moves them: 5e-5 of their norm on a 2-core Xeon (largest element 3e-4, where
  // a largest-element bound of 1e-4 held on the EPYC and failed here); batches that differed, or a
  // missing all-reduce, would send the runs along other trajectories, far past this bound.
  assert.ok(diff.relative < 5e-4, `weights apart by ${diff.relative} of their norm (largest element ${diff.absolute} in ${diff.key})`);
  assert.equal(T.memory().tensors, 0);
});

test('a rank that dies ends the others with a message, well within 60 s', { skip, timeout: 120_000 }, async () => {
  const out = join(dir, 'dies');
  const child: ChildProcess = spawn(process.execPath, trainArgs(out, '--epochs', '500', '--nproc-per-node', '2', '--master-port', String(await freePort())), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // Once training is under way (rank 0's progress), kill rank 1 as the OOM killer would.
  const deadline = Date.now() + 60_000;
  while (!/epoch \d+\/500/.test(stderr)) {
    assert.ok(Date.now() < deadline, `no training progress: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const ranks = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.equal(ranks.length, 2, ranks.join('\n'));
  const killedAt = Date.now();
  const rank1 = ranks.map((l) => Number(l.trim().split(/\s+/)[0])).sort((x, y) => x - y)[1];
  process.kill(rank1, 'SIGKILL');
  const status = await exited;
  const seconds = (Date.now() - killedAt) / 1000;
  assert.notEqual(status, 0);
  assert.ok(seconds < 60, `${seconds} s`);
  // Whichever the launcher sees first: rank 1 killed, or rank 0 failing on the lost connection.
  assert.match(stderr, /rank \d exited with (signal SIGKILL|status \d+): stopping the other 1 rank/);
  assert.match(stderr, /rank 0 of 2: lost contact with the other ranks/);
});

test('a 2-rank run stopped by Ctrl-C resumes on 2 ranks to the weights of an uninterrupted one; another world size is refused', { skip, timeout: 240_000 }, async () => {
  const whole = join(dir, 'whole');
  const port = async () => String(await freePort());
  const uninterrupted = run(trainArgs(whole, '--epochs', '6', '--nproc-per-node', '2', '--master-port', await port()));
  assert.equal(uninterrupted.status, 0, uninterrupted.stderr);
  const out = join(dir, 'stopped');
  const child = spawn(process.execPath, trainArgs(out, '--epochs', '6', '--nproc-per-node', '2', '--master-port', await port()), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // After the first epoch's line, 50 of 60 steps are left: the signal lands mid-run.
  while (!/epoch 1\/6:/.test(stderr) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  const status = await exited;
  assert.equal(status, 130, stderr);
  assert.doesNotMatch(stderr, /stopping the other/, 'ranks stopping on a passed-on signal are not failures');
  const refused = run(trainArgs(out, '--epochs', '6', '--resume'));
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /was trained by 2 process\(es\) and is resumed by 1.*--override worldSize/);
  const resumed = run(trainArgs(out, '--epochs', '6', '--resume', '--nproc-per-node', '2', '--master-port', await port()));
  assert.equal(resumed.status, 0, resumed.stderr);
  const [a, b] = [weights(whole), weights(out)];
  const diff = weightDifference(a, b);
  disposeAll(a, b);
  assert.equal(diff.absolute, 0, `an exact resume: bit-identical weights (${diff.key} differs)`);
});
