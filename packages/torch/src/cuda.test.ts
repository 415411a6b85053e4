// The engine on a CUDA device: skipped where libtorch sees none (the CPU machines CI runs on);
// scripts/gpu-check.sh runs it on a GPU machine. Every result is compared with the CPU's.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as T from './index.js';

const skip = T.cuda.isAvailable() ? false : 'no CUDA device visible to libtorch (scripts/gpu-check.sh runs these on a GPU machine)';

function close(a: T.Tensor, b: T.Tensor, tol: number): void {
  const err = a.cpu().float().sub(b.cpu().float()).abs().max().item();
  const scale = Math.max(1, b.cpu().float().abs().max().item());
  assert.ok(err <= tol * scale, `max |a-b| ${err} > ${tol} x ${scale}`);
}

test('tensors cross to CUDA and back, pinned, with the same values', { skip }, () => {
  T.tidy(() => {
    const x = T.arange(0, 12, 1, { dtype: 'float32' }).reshape(3, 4);
    const pinned = x.pinMemory();
    assert.equal(T.aten.isPinned(pinned), true);
    const g = T.aten.toDevice(pinned, 'cuda:0', 'float32', { nonBlocking: true });
    assert.equal(g.device, 'cuda:0');
    assert.deepEqual(Array.from(g.cpu().toArray() as Float32Array), Array.from(x.toArray() as Float32Array));
    assert.deepEqual(Array.from(g.toBuffer()), Array.from(x.toBuffer()), 'toBuffer copies a CUDA tensor to the host');
  });
});

test('matmul, conv and autograd on CUDA match the CPU', { skip }, () => {
  T.tidy(() => {
    T.manualSeed(0);
    const a = T.randn([64, 32]);
    const b = T.randn([32, 16], { requiresGrad: true });
    const bg = b.detach().cuda().requiresGrad_(true);
    const cpuLoss = a.matmul(b).tanh().sum();
    const gpuLoss = a.cuda().matmul(bg).tanh().sum();
    cpuLoss.backward();
    gpuLoss.backward();
    close(gpuLoss, cpuLoss, 1e-4);
    close(bg.grad!, b.grad!, 1e-4);
    const img = T.randn([2, 3, 16, 16]);
    const k = T.randn([4, 3, 3, 3]);
    close(T.F.conv2d(img.cuda(), k.cuda(), null, { padding: 1 }), T.F.conv2d(img, k, null, { padding: 1 }), 1e-4);
  });
});

test('autocast float16 on CUDA lowers linear; the gradient scaler steps on CUDA gradients', { skip }, () => {
  T.tidy(() => {
    const layer = new T.nn.Linear(8, 4).to('cuda:0');
    const x = T.randn([3, 8]).cuda();
    const y = T.amp.autocast('cuda', () => layer.forward(x));
    assert.equal(y.dtype, 'float16');
    const opt = new T.optim.AdamW(layer.parameters(), { lr: 1e-3 });
    const scaler = new T.amp.GradScaler();
    const before = layer.weight.cpu();
    scaler.scale(T.amp.autocast('cuda', () => layer.forward(x)).float().pow(2).mean()).backward();
    assert.equal(layer.weight.grad!.dtype, 'float32');
    assert.equal(scaler.step(opt), true);
    scaler.update();
    assert.ok(layer.weight.cpu().sub(before).abs().max().item() > 0, 'the step moved the weights');
    opt.dispose();
    layer.dispose();
  });
});

test('a module moved to CUDA saves device-independent safetensors that load on the CPU', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tgt-cuda-'));
  try {
    T.tidy(() => {
      T.manualSeed(2);
      const a = new T.nn.Linear(5, 3);
      const reference = a.weight.clone();
      a.to('cuda:0');
      assert.equal(a.weight.device, 'cuda:0');
      T.saveSafetensors(join(dir, 'w.safetensors'), a.stateDict());
      const loaded = T.loadSafetensors(join(dir, 'w.safetensors'));
      assert.equal(loaded.get('weight')!.device, 'cpu');
      close(loaded.get('weight')!, reference, 0);
      a.to('cpu');
      assert.equal(a.weight.device, 'cpu');
      T.dispose([...loaded.values()]);
      a.dispose();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NCCL with world size 1: all-reduce and broadcast of CUDA tensors', { skip: skip || (!T.distributed.available('nccl') && 'this addon was built without NCCL') }, () => {
  T.distributed.initProcessGroup({ backend: 'nccl', masterAddr: '127.0.0.1', masterPort: 29631, rank: 0, worldSize: 1, timeoutMs: 30_000 });
  try {
    T.tidy(() => {
      const t = T.tensor([1, 2, 3]).cuda();
      T.distributed.allReduce_(t, 'sum');
      assert.deepEqual(Array.from(t.cpu().toArray() as Float32Array), [1, 2, 3]);
      T.distributed.broadcast_(t, 0);
      T.distributed.barrier();
    });
  } finally {
    T.distributed.destroyProcessGroup();
  }
});
