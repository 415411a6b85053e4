import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from './index.js';

const live = () => T.memory().tensors;

test('tidy frees intermediates and hands returned tensors to the caller', () => {
  const start = live();
  const out = T.tidy(() => {
    const a = T.ones([3]);
    const b = a.add(1);
    return { sum: b.mul(2), list: [b.sum()] };
  });
  assert.equal(live(), start + 2);
  assert.deepEqual(out.sum.toNumbers(), [4, 4, 4]);
  T.dispose(out);
  assert.equal(live(), start);
});

test('nested tidy moves results to the parent scope, which then frees them', () => {
  const start = live();
  T.tidy(() => {
    const inner = T.tidy(() => T.ones([2]).mul(3));
    assert.equal(inner.isDisposed, false);
    return undefined;
  });
  assert.equal(live(), start);
});

test('tidy frees everything when the body throws', () => {
  const start = live();
  assert.throws(() =>
    T.tidy(() => {
      T.ones([4]);
      throw new Error('boom');
    }),
  );
  assert.equal(live(), start);
  assert.equal(T.scopeDepth(), 0);
});

test('keep() survives the scope; tidy refuses async bodies', () => {
  const start = live();
  let kept: T.Tensor | null = null;
  T.tidy(() => {
    kept = T.keep(T.ones([2]));
  });
  assert.equal(live(), start + 1);
  kept!.dispose();
  assert.throws(() => T.tidy(() => Promise.resolve(1) as unknown as number), /synchronous/);
  assert.equal(live(), start);
});

test('liveBytes counts shared storage once', () => {
  T.tidy(() => {
    const before = T.memory().bytes;
    const a = T.zeros([256]);
    a.reshape(16, 16);
    a.slice(0, 0, 8);
    assert.equal(T.memory().bytes - before, 1024);
  });
});
