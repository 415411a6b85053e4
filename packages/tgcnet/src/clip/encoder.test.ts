import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { ClipAttention } from './encoder.js';

// The no-grad path runs libtorch's fused kernel on packed copies of q/k/v: it must agree with
// the differentiable path, and the copies must follow every change of the weights.
test('fused inference attention matches the autograd path and follows weight updates', () => {
  T.manualSeed(3);
  const before = T.liveTensorCount();
  const attn = new ClipAttention(16, 4);
  const x = T.randn([2, 5, 16]);
  const agree = () =>
    T.tidy(() => {
      const slow = attn.forward(x, null);
      const fast = T.noGrad(() => attn.forward(x, null));
      return slow.sub(fast).abs().max().item();
    });
  assert.ok(agree() < 1e-5);
  // loadStateDict writes in place (the tensors' versions change): the packed copy must refresh.
  T.tidy(() => {
    const sd = new Map([...attn.stateDict()].map(([k, v]) => [k, T.randn([...v.shape])]));
    attn.loadStateDict(sd);
  });
  assert.ok(agree() < 1e-5);
  T.tidy(() => T.noGrad(() => void attn.q_proj.bias!.add_(T.ones([16]))));
  assert.ok(agree() < 1e-5);
  assert.deepEqual([...attn.stateDict().keys()].sort(), ['k_proj.bias', 'k_proj.weight', 'out_proj.bias', 'out_proj.weight', 'q_proj.bias', 'q_proj.weight', 'v_proj.bias', 'v_proj.weight']);
  attn.dispose();
  x.dispose();
  assert.equal(T.liveTensorCount(), before);
});
