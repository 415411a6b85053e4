#!/usr/bin/python3
"""Writes test/fixtures/reference.safetensors: inputs, parameters and outputs computed by
PyTorch itself, which src/reference.test.ts recomputes with @tgcnet/torch and compares.

Run with a Python that has torch (1.13 here: Debian's /usr/bin/python3):
    cd packages/torch && /usr/bin/python3 scripts/make-reference-fixtures.py

Naming: `<case>.<role>`; a module's state dict is stored under `<case>.state.<PyTorch key>`
so the test can hand it to loadStateDict unchanged. Everything is float64 (masks and
indices are int64) so comparisons can be tight. The output is deterministic: fixed seed,
single thread, sorted keys.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20240611)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'reference.safetensors')

tensors = {}


def put(name, t):
    if name in tensors:
        raise KeyError(f'duplicate fixture key {name}')
    t = torch.as_tensor(t).detach().cpu()
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.dtype not in (torch.float64, torch.float32, torch.int64):
        raise TypeError(f'{name}: unsupported dtype {t.dtype}')
    tensors[name] = t.contiguous().clone()


def put_state(prefix, module):
    for k, v in module.state_dict().items():
        put(f'{prefix}.state.{k}', v)


def randomize_(module):
    """Non-default parameters, so affine weights and biases are really exercised."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 and p is getattr(module, 'weight', None) else 0.0))


def write_safetensors(path, items):
    header = {}
    offset = 0
    blobs = []
    fmt = {torch.float64: 'F64', torch.float32: 'F32', torch.int64: 'I64'}
    for name in sorted(items):
        t = items[name]
        data = t.numpy().astype(t.numpy().dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': fmt[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    js = json.dumps(header, separators=(',', ':'), sort_keys=True).encode('utf-8')
    js += b' ' * ((8 - len(js) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return 8 + len(js) + offset


# ---------------------------------------------------------------- modules

with torch.no_grad():
    # nn.Linear on a 3-D input (the leading dims broadcast).
    m = nn.Linear(5, 3)
    randomize_(m)
    x = torch.randn(2, 4, 5)
    put_state('linear', m)
    put('linear.input', x)
    put('linear.output', m(x))

    # nn.Conv2d, stride 2, padding 1, groups 2.
    m = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    x = torch.randn(2, 4, 7, 6)
    put_state('conv2d', m)
    put('conv2d.input', x)
    put('conv2d.output', m(x))

    # nn.ConvTranspose2d, stride 2, padding 1, output_padding 1.
    m = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(2, 4, 3, 5)
    put_state('conv_transpose2d', m)
    put('conv_transpose2d.input', x)
    put('conv_transpose2d.output', m(x))

    # nn.LayerNorm over the last two dims, non-default eps and random affine.
    m = nn.LayerNorm([3, 4], eps=1e-6)
    randomize_(m)
    x = torch.randn(2, 5, 3, 4) * 3 + 1
    put_state('layer_norm', m)
    put('layer_norm.input', x)
    put('layer_norm.output', m(x))

    # nn.GroupNorm, 3 groups of 2 channels.
    m = nn.GroupNorm(3, 6)
    randomize_(m)
    x = torch.randn(2, 6, 3, 4) * 2 - 1
    put_state('group_norm', m)
    put('group_norm.input', x)
    put('group_norm.output', m(x))

    # nn.BatchNorm2d: a training step (output + updated running statistics), then eval.
    m = nn.BatchNorm2d(3, momentum=0.2)
    randomize_(m)
    m.running_mean.copy_(torch.randn(3))
    m.running_var.copy_(torch.rand(3) + 0.5)
    put_state('batch_norm', m)  # the state before the training step
    m.train()
    x = torch.randn(4, 3, 2, 3) * 2 + 0.5
    put('batch_norm.train_input', x)
    put('batch_norm.train_output', m(x))
    put('batch_norm.after.running_mean', m.running_mean)
    put('batch_norm.after.running_var', m.running_var)
    put('batch_norm.after.num_batches_tracked', m.num_batches_tracked)
    m.eval()
    x = torch.randn(2, 3, 2, 3)
    put('batch_norm.eval_input', x)
    put('batch_norm.eval_output', m(x))

    # nn.Embedding.
    m = nn.Embedding(10, 4, padding_idx=0)
    idx = torch.tensor([[1, 0, 9, 3, 3], [7, 2, 0, 5, 8]], dtype=torch.int64)
    put_state('embedding', m)
    put('embedding.indices', idx)
    put('embedding.output', m(idx))

    # nn.MultiheadAttention, batch_first, self-attention with a key padding mask.
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        m.in_proj_bias.copy_(torch.randn(24) * 0.1)
        m.out_proj.bias.copy_(torch.randn(8) * 0.1)
    m.eval()
    x = torch.randn(2, 5, 8)
    kpm = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
    out, w = m(x, x, x, key_padding_mask=kpm, need_weights=True)
    put_state('mha', m)
    put('mha.input', x)
    put('mha.key_padding_mask', kpm)
    put('mha.output', out)
    put('mha.weights', w)
    # ... and cross-attention (S != L) with a boolean attn_mask (True = not allowed).
    q = torch.randn(2, 3, 8)
    kv = torch.randn(2, 4, 8)
    am = torch.tensor([[False, True, False, False], [False, False, True, True], [True, False, False, False]])
    out, w = m(q, kv, kv, attn_mask=am, need_weights=True)
    put('mha.cross.query', q)
    put('mha.cross.kv', kv)
    put('mha.cross.attn_mask', am)
    put('mha.cross.output', out)
    put('mha.cross.weights', w)

# ---------------------------------------------------------------- functional

img = torch.randn(2, 3, 5, 7)
put('interp.input', img)
for mode in ('bilinear', 'bicubic'):
    for ac in (False, True):
        tag = f'{mode}.ac{int(ac)}'
        put(f'interp.{tag}.size', F.interpolate(img, size=(8, 4), mode=mode, align_corners=ac))
        put(f'interp.{tag}.scale', F.interpolate(img, scale_factor=1.5, mode=mode, align_corners=ac))
put('interp.nearest.size', F.interpolate(img, size=(8, 4), mode='nearest'))
put('interp.nearest.scale', F.interpolate(img, scale_factor=1.5, mode='nearest'))

gs_in = torch.randn(2, 3, 4, 5)
gs_grid = torch.rand(2, 3, 6, 2) * 2.4 - 1.2  # some points fall outside [-1, 1]
put('grid_sample.input', gs_in)
put('grid_sample.grid', gs_grid)
put('grid_sample.bilinear_zeros', F.grid_sample(gs_in, gs_grid, mode='bilinear', padding_mode='zeros', align_corners=False))
put('grid_sample.nearest_border_ac', F.grid_sample(gs_in, gs_grid, mode='nearest', padding_mode='border', align_corners=True))
put('grid_sample.bicubic_reflection', F.grid_sample(gs_in, gs_grid, mode='bicubic', padding_mode='reflection', align_corners=False))

a = torch.randn(4, 6)
b = torch.randn(4, 6)
c = torch.randn(1, 6)
put('cosine.a', a)
put('cosine.b', b)
put('cosine.c', c)
put('cosine.dim1', F.cosine_similarity(a, b, dim=1))
put('cosine.broadcast', F.cosine_similarity(a, c, dim=-1))

logits = torch.randn(3, 4) * 2
target = torch.rand(3, 4)
pos_weight = torch.rand(4) * 3 + 0.5
weight = torch.rand(3, 4) + 0.5
put('bce.input', logits)
put('bce.target', target)
put('bce.pos_weight', pos_weight)
put('bce.weight', weight)
put('bce.mean', F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight))
put('bce.none', F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction='none'))
put('bce.weighted_sum', F.binary_cross_entropy_with_logits(logits, target, weight=weight, pos_weight=pos_weight, reduction='sum'))

ce_in = torch.randn(6, 5) * 2
ce_t = torch.tensor([0, 3, 4, 3, 1, 2], dtype=torch.int64)
ce_w = torch.rand(5) + 0.5
put('ce.input', ce_in)
put('ce.target', ce_t)
put('ce.weight', ce_w)
put('ce.plain', F.cross_entropy(ce_in, ce_t))
put('ce.smooth_ignore_mean', F.cross_entropy(ce_in, ce_t, ignore_index=3, label_smoothing=0.1))
put('ce.smooth_ignore_sum', F.cross_entropy(ce_in, ce_t, ignore_index=3, label_smoothing=0.1, reduction='sum'))
put('ce.smooth_ignore_none', F.cross_entropy(ce_in, ce_t, ignore_index=3, label_smoothing=0.1, reduction='none'))
put('ce.weighted_smooth_ignore_mean', F.cross_entropy(ce_in, ce_t, weight=ce_w, ignore_index=3, label_smoothing=0.2))
ce_prob = torch.softmax(torch.randn(6, 5), dim=1)
put('ce.prob_target', ce_prob)
put('ce.prob_smooth_mean', F.cross_entropy(ce_in, ce_prob, label_smoothing=0.1))
seg_in = torch.randn(2, 4, 3, 3)
seg_t = torch.randint(0, 4, (2, 3, 3), dtype=torch.int64)
seg_t[0, 0, 0] = 255
seg_t[1, 2, 1] = 255
put('ce.seg_input', seg_in)
put('ce.seg_target', seg_t)
put('ce.seg_smooth_ignore255', F.cross_entropy(seg_in, seg_t, ignore_index=255, label_smoothing=0.05))

sm = torch.randn(3, 5) * 3
put('softmax.input', sm)
put('softmax.last', F.softmax(sm, dim=-1))
put('softmax.dim0', F.softmax(sm, dim=0))
put('log_softmax.last', F.log_softmax(sm, dim=-1))
put('log_softmax.dim0', F.log_softmax(sm, dim=0))

act = torch.cat([torch.linspace(-6, 6, 25), torch.randn(15) * 2])
put('act.input', act)
put('act.gelu', F.gelu(act))
put('act.gelu_tanh', F.gelu(act, approximate='tanh'))
put('act.quick_gelu', act * torch.sigmoid(1.702 * act))

pad_in = torch.randn(2, 3, 4, 5)
put('pad.input', pad_in)
put('pad.reflect', F.pad(pad_in, (1, 2, 3, 1), mode='reflect'))
put('pad.constant', F.pad(pad_in, (2, 0, 1, 1), mode='constant', value=-1.5))
put('pad.replicate', F.pad(pad_in, (1, 2, 0, 2), mode='replicate'))

pool_in = torch.randn(2, 3, 7, 6)
put('pool.input', pool_in)
put('pool.max_k3s2p1', F.max_pool2d(pool_in, 3, stride=2, padding=1))
put('pool.max_k2', F.max_pool2d(pool_in, 2))
put('pool.avg_k3s2p1', F.avg_pool2d(pool_in, 3, stride=2, padding=1))
put('pool.avg_k2', F.avg_pool2d(pool_in, 2))
put('pool.adaptive_avg_3x4', F.adaptive_avg_pool2d(pool_in, (3, 4)))

# ---------------------------------------------------------------- optimizers
# A small regression problem: loss = mean((linear(x, w, b) * s - y)^2), with (w, b) in one
# parameter group and s in another. Parameters after each of 5 steps are stored stacked.
opt_x = torch.randn(8, 4)
opt_y = torch.randn(8, 3)
opt_w0 = torch.randn(3, 4) * 0.5
opt_b0 = torch.randn(3) * 0.1
opt_s0 = torch.rand(3) + 0.5
put('opt.x', opt_x)
put('opt.y', opt_y)
put('opt.w0', opt_w0)
put('opt.b0', opt_b0)
put('opt.s0', opt_s0)


def opt_loss(w, b, s):
    return (F.linear(opt_x, w, b) * s - opt_y).pow(2).mean()


def run_optimizer(prefix, make):
    w = opt_w0.clone().requires_grad_()
    b = opt_b0.clone().requires_grad_()
    s = opt_s0.clone().requires_grad_()
    opt = make(w, b, s)
    ws, bs, ss, losses = [], [], [], []
    for _ in range(5):
        opt.zero_grad()
        loss = opt_loss(w, b, s)
        loss.backward()
        opt.step()
        losses.append(loss.detach().clone())
        ws.append(w.detach().clone())
        bs.append(b.detach().clone())
        ss.append(s.detach().clone())
    put(f'{prefix}.loss', torch.stack(losses))
    put(f'{prefix}.w', torch.stack(ws))
    put(f'{prefix}.b', torch.stack(bs))
    put(f'{prefix}.s', torch.stack(ss))


run_optimizer('adamw', lambda w, b, s: torch.optim.AdamW(
    [{'params': [w, b]}, {'params': [s], 'lr': 3e-2, 'weight_decay': 0.0, 'betas': (0.8, 0.99)}],
    lr=1e-2, weight_decay=0.1))
run_optimizer('sgd', lambda w, b, s: torch.optim.SGD(
    [{'params': [w, b]}, {'params': [s], 'lr': 2e-2, 'nesterov': False, 'dampening': 0.1, 'weight_decay': 0.0}],
    lr=5e-2, momentum=0.9, nesterov=True, weight_decay=1e-2))

# clip_grad_norm_: gradients before, total norm returned, gradients after.
g1 = torch.randn(3, 4)
g2 = torch.randn(5) * 2
put('clip.g1', g1)
put('clip.g2', g2)
for tag, max_norm, norm_type in (('l2', 1.0, 2.0), ('l2_noclip', 100.0, 2.0), ('inf', 0.5, math.inf)):
    p1 = torch.zeros(3, 4, requires_grad=True)
    p2 = torch.zeros(5, requires_grad=True)
    p1.grad = g1.clone()
    p2.grad = g2.clone()
    total = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm, norm_type=norm_type)
    put(f'clip.{tag}.total', total)
    put(f'clip.{tag}.g1', p1.grad)
    put(f'clip.{tag}.g2', p2.grad)

# LambdaLR with a warmup + cosine factor (written here independently of the TS formula):
# learning rates of two groups after construction and after each of 12 steps.
WARMUP, TOTAL, MIN_F = 3, 10, 0.1


def warmup_cosine(step):
    if step < WARMUP:
        return step / WARMUP
    progress = min(1.0, (step - WARMUP) / (TOTAL - WARMUP))
    return MIN_F + (1 - MIN_F) * 0.5 * (1 + math.cos(math.pi * progress))


sched_p = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
sched_opt = torch.optim.SGD([{'params': [sched_p[0]], 'lr': 0.1}, {'params': [sched_p[1]], 'lr': 0.02}], lr=0.1)
sched = torch.optim.lr_scheduler.LambdaLR(sched_opt, warmup_cosine)
lrs = [[g['lr'] for g in sched_opt.param_groups]]
for _ in range(12):
    sched_opt.step()
    sched.step()
    lrs.append([g['lr'] for g in sched_opt.param_groups])
put('lambda_lr.lrs', torch.tensor(lrs, dtype=torch.float64))

size = write_safetensors(OUT, tensors)
print(f'wrote {len(tensors)} tensors, {size} bytes, to {os.path.relpath(OUT)} (torch {torch.__version__})')
if size > 300_000:
    sys.exit('fixture file is over 300 KB: make the cases smaller')
