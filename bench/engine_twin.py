#!/usr/bin/python3
"""Engine benchmark, PyTorch twin of bench/engine.mjs (Debian python3-torch 1.13).

Same workloads, shapes, ops and seeds as the TypeScript side. Run both with
`node bench/run-engine.mjs`; run this file alone for one side:

    /usr/bin/python3 bench/engine_twin.py --workload conv|smallops|smallops_tidy|block|msdeform \
        [--threads N] [--warmup N] [--repeats N] [--serve]

Prints one JSON line: {"side":"py","workload":...,"samples_ms":[...],"check":...}.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from twinlib import serve_or_run  # noqa: E402


# ---- (a) conv2d fwd+bwd: x[4,64,64,64] * w[64,64,3,3], padding 1 ----
def conv():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 64, 64).requires_grad_()
    w = torch.randn(64, 64, 3, 3).mul_(0.05).requires_grad_()

    def step():
        x.grad = None
        w.grad = None
        y = F.conv2d(x, w, None, padding=1)
        y.sum().backward()

    def check():
        step()
        return w.grad.sum().item() + x.grad.sum().item()

    return step, check, 3, 10


# ---- (b) 10,000 ops on [16]-element tensors: per-op overhead ----
CHAIN_ROUNDS = 1250  # x 8 ops = 10,000 ops


def smallops_inputs():
    torch.manual_seed(0)
    x = torch.randn(16)
    b = torch.randn(16).mul_(0.1)
    c = torch.rand(16).add_(0.5)
    return x, b, c


def smallops():
    x, b, c = smallops_inputs()

    def chain():
        y = x
        for _ in range(CHAIN_ROUNDS):
            y = y.add(b)
            y = y.mul(c)
            y = y.sub(b)
            y = y.div(c)
            y = y.add(0.5)
            y = y.mul(0.5)
            y = y.tanh()
            y = y.neg()
        return y

    def step():
        chain()

    def check():
        return chain().sum().item()

    return step, check, 3, 9


# The TS side's smallops_tidy differs only in how it frees; Python frees by refcount either way.
smallops_tidy = smallops


# ---- (c) one pre-LN transformer block (ViT-L/14@336: 577 tokens x 1024), fwd+bwd ----
WIDTH = 1024
HEADS = 16
TOKENS = 577


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        h = self.c_fc(self.ln_2(x))
        h = h * torch.sigmoid(1.702 * h)  # QuickGELU, as OpenAI CLIP
        return x + self.c_proj(h)


def fill_parameters(module):
    """Deterministic parameters, filled in sorted-key order (the TS side does the same)."""
    entries = sorted(module.named_parameters(), key=lambda e: e[0])
    with torch.no_grad():
        for name, p in entries:
            v = torch.randn(*p.shape).mul(0.02)
            p.copy_(v.add(1) if name.startswith("ln_") and name.endswith(".weight") else v)
    return [p for _, p in entries]


def block():
    m = ResidualAttentionBlock(WIDTH, HEADS)
    torch.manual_seed(0)
    params = fill_parameters(m)
    x = torch.randn(1, TOKENS, WIDTH)

    def step():
        for p in params:
            p.grad = None
        m(x).sum().backward()

    def check():
        for p in params:
            p.grad = None
        loss = m(x).sum()
        l = loss.item()
        loss.backward()
        return l + m.attn.in_proj_weight.grad.abs().sum().item()

    return step, check, 2, 7


# ---- (d) multi-scale deformable attention fwd+bwd at the `paper` SSE shapes ----
# The grid_sample formulation (Deformable-DETR's ms_deform_attn_core_pytorch), for both keys.
MSDA_SHAPES = [(96, 96), (48, 48), (24, 24)]
MSDA_HEADS, MSDA_DIM, MSDA_POINTS = 8, 32, 4


def grid_sample_core(value, shapes, locations, weights):
    B, _, heads, D = value.shape
    _, Lq, _, levels, points, _ = locations.shape
    per_level = value.split([h * w for h, w in shapes], 1)
    grids = locations.mul(2).sub(1)
    sampled = []
    for l, (h, w) in enumerate(shapes):
        v = per_level[l].flatten(2).transpose(1, 2).reshape(B * heads, D, h, w)
        g = grids.select(3, l).transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
    stacked = torch.stack(sampled, -2).flatten(-2)
    wts = weights.transpose(1, 2).reshape(B * heads, 1, Lq, levels * points)
    return stacked.mul(wts).sum(-1).reshape(B, heads * D, Lq).transpose(1, 2)


def msdeform():
    torch.manual_seed(0)
    total = sum(h * w for h, w in MSDA_SHAPES)
    levels = len(MSDA_SHAPES)
    value = torch.randn(1, total, MSDA_HEADS, MSDA_DIM).requires_grad_()
    locations = torch.rand(1, total, MSDA_HEADS, levels, MSDA_POINTS, 2).mul(1.2).sub(0.1).requires_grad_()
    logits = torch.randn(1, total, MSDA_HEADS, levels * MSDA_POINTS)
    weights = F.softmax(logits, -1).reshape(1, total, MSDA_HEADS, levels, MSDA_POINTS).requires_grad_()
    leaves = (value, locations, weights)

    def step():
        for t in leaves:
            t.grad = None
        grid_sample_core(value, MSDA_SHAPES, locations, weights).square().sum().backward()

    def check():
        for t in leaves:
            t.grad = None
        loss = grid_sample_core(value, MSDA_SHAPES, locations, weights).square().sum()
        l = loss.item()
        loss.backward()
        return [l, value.grad.abs().sum().item(), locations.grad.abs().sum().item(), weights.grad.abs().sum().item()]

    return step, check, 2, 7


WORKLOADS = {"conv": conv, "smallops": smallops, "smallops_tidy": smallops_tidy, "block": block,
             "msdeform": msdeform, "msdeform_gs": msdeform}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="conv", choices=sorted(WORKLOADS))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--serve", action="store_true",
                    help="after warm-up, answer `run K` lines on stdin (see engine.mjs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    step, check, warmup, repeats = WORKLOADS[a.workload]()
    warmup = a.warmup if a.warmup is not None else warmup
    repeats = a.repeats if a.repeats is not None else repeats
    info = {"side": "py", "workload": a.workload, "threads": torch.get_num_threads(),
            "check": check(), "torch": torch.__version__}
    serve_or_run(step, warmup, repeats, a.serve, info)


if __name__ == "__main__":
    main()
