// The operator profile: libtorch's RecordFunction sees our ops and autograd's backward nodes;
// self times exclude children and add up to no more than the profiled wall time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

test('profile: forward ops and backward nodes by name, self time within total, a readable table', () => {
  T.manualSeed(0);
  const w = T.randn([64, 64], { requiresGrad: true });
  const x = T.randn([32, 64]);
  const t0 = performance.now();
  const { result, ops } = T.profiler.profile(() =>
    T.tidy(() => {
      let loss = 0;
      for (let i = 0; i < 5; i++) {
        const l = x.matmul(w).relu().sum();
        l.backward();
        loss = l.item();
      }
      return loss;
    }),
  );
  const wall = performance.now() - t0;
  assert.ok(Number.isFinite(result));
  const byName = new Map(ops.map((o) => [o.name, o]));
  assert.equal(byName.get('aten::matmul')?.calls, 5);
  assert.ok(byName.get('aten::relu'), 'aten::relu profiled');
  assert.ok([...byName.keys()].some((n) => /Backward/.test(n)), `a backward node among ${[...byName.keys()].slice(0, 10)}`);
  for (const o of ops) assert.ok(o.selfMs <= o.totalMs + 1e-6 && o.selfMs >= -1e-6, `${o.name}: self ${o.selfMs} within total ${o.totalMs}`);
  // matmul calls mm: its self time is less than its total.
  const mm = byName.get('aten::matmul')!;
  assert.ok(mm.selfMs < mm.totalMs);
  const allSelf = ops.reduce((s, o) => s + o.selfMs, 0);
  assert.ok(allSelf <= wall * 1.5, `self times ${allSelf} ms vs ${wall} ms of wall time (backward threads may overlap a little)`);
  assert.deepEqual(ops.map((o) => o.selfMs), [...ops.map((o) => o.selfMs)].sort((a, b) => b - a), 'largest self time first');
  const table = T.profiler.formatTable(ops, { top: 3, per: 5, perLabel: 'step' });
  assert.match(table, /^operator\s+self ms\/step/);
  assert.match(table, /more\)/);
  assert.match(table, /all operators/);
  // Nothing is counted after stop, and a second profile starts clean.
  assert.throws(() => T.profiler.stop(), /not running/);
  const again = T.profiler.profile(() => T.tidy(() => x.add(1).sum().item()));
  assert.equal(again.ops.find((o) => o.name === 'aten::matmul'), undefined);
  assert.throws(() => T.profiler.profile(() => { throw new Error('inside'); }), /inside/);
  T.profiler.start();
  T.profiler.stop();
  w.dispose();
  x.dispose();
});
