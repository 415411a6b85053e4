// The inference queue on its own: FIFO, one job at a time, bounded, closable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from './errors.js';
import { InferenceQueue } from './queue.js';

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

test('jobs run one at a time, in the order they came', async () => {
  const q = new InferenceQueue(10);
  const order: number[] = [];
  let active = 0;
  let maxActive = 0;
  const jobs = [0, 1, 2, 3, 4].map((i) =>
    q.run(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await tick(5 - i);
      order.push(i);
      active--;
      return i * 10;
    }),
  );
  assert.deepEqual(await Promise.all(jobs), [0, 10, 20, 30, 40]);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(maxActive, 1);
  assert.equal(q.running, false);
});

test('a full queue refuses at once with 503 queue_full and a Retry-After', async () => {
  const q = new InferenceQueue(2);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const accepted = [q.run(() => gate), q.run(async () => 1), q.run(async () => 2)];
  assert.equal(q.depth, 2);
  await assert.rejects(q.run(async () => 3), (err: ApiError) => err.status === 503 && err.code === 'queue_full' && /^\d+$/.test(err.headers['retry-after']));
  release();
  await Promise.all(accepted);
  assert.equal(await q.run(async () => 'after'), 'after');
});

test('a failing job rejects its own caller only', async () => {
  const q = new InferenceQueue(4);
  const bad = q.run(() => {
    throw new Error('boom');
  });
  const good = q.run(async () => 'ok');
  await assert.rejects(bad, /boom/);
  assert.equal(await good, 'ok');
});

test('close() refuses the waiting jobs, waits for the running one, and refuses new ones', async () => {
  const q = new InferenceQueue(4);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let done = false;
  const running = q.run(() => gate.then(() => (done = true)));
  const waiting = q.run(async () => 'never');
  await tick();
  const closed = q.close();
  await assert.rejects(waiting, (err: ApiError) => err.code === 'shutting_down');
  release();
  await closed;
  assert.ok(done);
  await running;
  await assert.rejects(q.run(async () => 1), (err: ApiError) => err.code === 'shutting_down');
});
