// c10d over loopback: two processes (this file, started again in child mode) meet at a
// TCPStore and run Gloo collectives; a peer that dies is an error, not a hang.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import * as T from './index.js';

const D = T.distributed;

function childMain(): void {
  const options = D.processGroupFromEnv()!;
  D.initProcessGroup({ ...options, timeoutMs: 20_000 });
  const rank = D.getRank();
  const out: Record<string, unknown> = { rank, worldSize: D.getWorldSize() };
  T.tidy(() => {
    const summed = D.allReduce_(T.tensor([rank + 1, 10 * (rank + 1)]), 'sum');
    const largest = D.allReduce_(T.tensor([rank === 0 ? 5 : 3]), 'max');
    const fromRoot = D.broadcast_(T.tensor([rank === 1 ? 42 : -1]), 1);
    out.sum = Array.from(summed.toArray() as Float32Array);
    out.max = Array.from(largest.toArray() as Float32Array);
    out.broadcast = Array.from(fromRoot.toArray() as Float32Array);
    // Gradients averaged in one bucket; a parameter without a gradient on one rank still takes part.
    const a = T.tensor([1, 2, 3]).requiresGrad_(true);
    const b = T.tensor([[1, 1]]).requiresGrad_(true);
    a.mul(rank + 1).sum().backward();
    if (rank === 0) b.mul(4).sum().backward();
    D.allReduceGradients_([a, b]);
    out.gradA = Array.from(a.grad!.toArray() as Float32Array);
    out.gradB = Array.from(b.grad!.toArray() as Float32Array);
    // Parameters made rank 0's.
    const p = T.tensor([rank, rank]);
    D.broadcastParameters_([p]);
    out.param = Array.from(p.toArray() as Float32Array);
  });
  D.barrier();
  D.store.set(`rank${rank}`, `hello from ${rank}`);
  D.barrier();
  out.note = D.store.get(`rank${1 - rank}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (process.env.TGT_DIST_DIE && rank === 1) process.exit(3);
  if (process.env.TGT_DIST_DIE) {
    const t0 = Date.now();
    try {
      T.tidy(() => D.allReduce_(T.tensor([1]), 'sum'));
      process.stdout.write('{"after":"no error"}\n');
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ after: (err as Error).message, ms: Date.now() - t0 })}\n`);
    }
  }
  D.destroyProcessGroup();
  assert.equal(T.memory().tensors, 0);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      server.close(() => resolvePort(address.port));
    });
  });
}

async function twoRanks(extra: Record<string, string> = {}): Promise<Record<string, unknown>[][]> {
  const port = String(await freePort());
  const self = fileURLToPath(import.meta.url);
  const runs = [0, 1].map(
    (rank) =>
      new Promise<Record<string, unknown>[]>((done, fail) => {
        const child = spawn(process.execPath, [self], {
          env: { ...process.env, ...extra, TGT_DIST_CHILD: '1', WORLD_SIZE: '2', RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (err += b.toString()));
        child.on('exit', (code) => {
          if (code !== 0 && !(extra.TGT_DIST_DIE && rank === 1 && code === 3)) fail(new Error(`rank ${rank} exited ${code}: ${err}`));
          else done(out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
        });
      }),
  );
  return Promise.all(runs);
}

if (process.env.TGT_DIST_CHILD) {
  childMain();
} else {
  const skip = D.available() ? false : 'this addon was built without Gloo (apt-get install libgloo-dev, then npm run build:native)';

  test('two processes: all-reduce, broadcast, barrier, the store, and gradients averaged in one bucket', { skip, timeout: 60_000 }, async () => {
    const [zero, one] = await twoRanks();
    for (const [r, [out]] of [zero, one].entries()) {
      assert.equal(out.rank, r);
      assert.equal(out.worldSize, 2);
      assert.deepEqual(out.sum, [3, 30]);
      assert.deepEqual(out.max, [5]);
      assert.deepEqual(out.broadcast, [42]);
      // a: rank r's gradient is (r+1) per element, averaged: 1.5; b: 4 on rank 0, none on rank 1: 2.
      assert.deepEqual(out.gradA, [1.5, 1.5, 1.5]);
      assert.deepEqual(out.gradB, [2, 2]);
      assert.deepEqual(out.param, [0, 0]);
      assert.equal(out.note, `hello from ${1 - r}`);
    }
  });

  test('a peer that dies makes the next collective fail at once with a message, not hang', { skip, timeout: 60_000 }, async () => {
    const [zero] = await twoRanks({ TGT_DIST_DIE: '1' });
    const after = zero[1] as { after: string; ms: number };
    assert.match(after.after, /^all_reduce: .*(closed|reset|Connection|peer)/i);
    assert.ok(after.ms < 20_000, `${after.ms} ms`);
  });

  test('processGroupFromEnv reads torchrun\'s variables and names what is wrong', () => {
    assert.equal(D.processGroupFromEnv({}), null);
    assert.deepEqual(D.processGroupFromEnv({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: 'h', MASTER_PORT: '29500' }), { masterAddr: 'h', masterPort: 29500, rank: 1, worldSize: 2 });
    assert.throws(() => D.processGroupFromEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK=2: expected an integer from 0 to 1/);
    assert.throws(() => D.processGroupFromEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }), /MASTER_ADDR is not set/);
    assert.throws(() => D.processGroupFromEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'h', MASTER_PORT: 'x' }), /MASTER_PORT=x/);
    assert.equal(D.getWorldSize(), 1);
    assert.equal(D.getRank(), 0);
  });
}
