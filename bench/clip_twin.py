#!/usr/bin/python3
"""CLIP vision benchmark, PyTorch twin of bench/clip.mjs (Debian python3-torch 1.13).

An independent CLIP vision tower in the OpenAI architecture (conv1 with stride = patch and no
bias, class token, positional embedding resized bicubically (align_corners False) when the
token grid differs from the native one, ln_pre, pre-LN blocks LN -> nn.MultiheadAttention
(batch_first) -> residual -> LN -> Linear -> QuickGELU -> Linear -> residual, ln_post on the class
token, @ proj), in eval mode under torch.no_grad(). Weights and pixels come from the
safetensors file the TS side writes (Hugging Face names, mapped here; q, k, v concatenated into
in_proj_weight / in_proj_bias, visual_projection.weight transposed into proj).

    /usr/bin/python3 bench/clip_twin.py --workload b16_336_b1 --weights FILE \
        [--threads N] [--warmup N] [--repeats N] [--serve]

Checksum: [sum, abs-sum] of the pooled embedding [B, E].
"""
import argparse
import os
import re
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from twinlib import read_safetensors, serve_or_run  # noqa: E402

# (width, layers, heads, native image size, patch, projection dim), as the TS presets.
CLIP_MODELS = {
    "b16": (768, 12, 12, 224, 16, 512),    # openai/clip-vit-base-patch16
    "l14": (1024, 24, 16, 336, 14, 768),   # openai/clip-vit-large-patch14-336
}


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, 4 * width)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(4 * width, width)),
        ]))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])


class VisionTransformer(nn.Module):
    """OpenAI's CLIP VisionTransformer (batch-first), with block taps and dense output."""

    def __init__(self, width, layers, heads, image_size, patch, output_dim):
        super().__init__()
        self.patch = patch
        self.grid = image_size // patch
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(self.grid * self.grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def positions(self, h, w):
        pos = self.positional_embedding
        if (h, w) == (self.grid, self.grid):
            return pos
        width = pos.shape[1]
        grid = pos[1:].reshape(1, self.grid, self.grid, width).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(h * w, width)])

    def forward(self, x, taps=(), dense=False):
        """Returns (pooled [B, E], [tap maps [B, W, h, w]], dense [B, E, h, w] or None)."""
        x = self.conv1(x)
        B, W, h, w = x.shape
        x = x.reshape(B, W, h * w).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(B, 1, W, dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positions(h, w)
        x = self.ln_pre(x)
        tapped = {}
        for i, block in enumerate(self.transformer.resblocks):
            x = block(x)
            if i + 1 in taps:
                tapped[i + 1] = x

        def to_map(t):
            return t[:, 1:].transpose(1, 2).reshape(B, t.shape[2], h, w)

        if dense:
            y = self.ln_post(x) @ self.proj
            return y[:, 0], [to_map(tapped[t]) for t in taps], to_map(y)
        return self.ln_post(x[:, 0]) @ self.proj, [to_map(tapped[t]) for t in taps], None


def build_vision(model):
    return VisionTransformer(*CLIP_MODELS[model])


_BLOCK_RENAMES = [
    ("self_attn.out_proj.", "attn.out_proj."),
    ("layer_norm1.", "ln_1."),
    ("layer_norm2.", "ln_2."),
    ("mlp.fc1.", "mlp.c_fc."),
    ("mlp.fc2.", "mlp.c_proj."),
]
_KEY_RENAMES = {
    "vision_model.embeddings.patch_embedding.weight": "conv1.weight",
    "vision_model.embeddings.class_embedding": "class_embedding",
    "vision_model.embeddings.position_embedding.weight": "positional_embedding",
    "vision_model.pre_layrnorm.weight": "ln_pre.weight",
    "vision_model.pre_layrnorm.bias": "ln_pre.bias",
    "vision_model.post_layernorm.weight": "ln_post.weight",
    "vision_model.post_layernorm.bias": "ln_post.bias",
}


def hf_to_openai_vision(state, prefix=""):
    """Our (Hugging Face) vision keys under `prefix` -> this module's state dict."""
    out = {}
    qkv = {}
    for key, t in state.items():
        if not key.startswith(prefix):
            continue
        k = key[len(prefix):]
        if k in _KEY_RENAMES:
            out[_KEY_RENAMES[k]] = t
        elif k == "visual_projection.weight":
            out["proj"] = t.t().contiguous()
        elif k.startswith("vision_model.encoder.layers."):
            m = re.match(r"vision_model\.encoder\.layers\.(\d+)\.(.*)$", k)
            n, rest = m.group(1), m.group(2)
            pm = re.match(r"self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if pm:
                qkv.setdefault((n, pm.group(2)), {})[pm.group(1)] = t
                continue
            for a, b in _BLOCK_RENAMES:
                if rest.startswith(a):
                    rest = b + rest[len(a):]
                    break
            out[f"transformer.resblocks.{n}.{rest}"] = t
    for (n, kind), parts in qkv.items():
        out[f"transformer.resblocks.{n}.attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="b16_224_b1")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--weights", required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = re.match(r"^(b16|l14)_(\d+)_b(\d+)$", a.workload)
    model = m.group(1)
    state = read_safetensors(a.weights)
    pixels = state.pop("bench.pixels")
    tower = build_vision(model)
    tower.load_state_dict(hf_to_openai_vision(state), strict=True)
    del state
    tower.eval()
    tower.requires_grad_(False)

    def forward():
        with torch.no_grad():
            return tower(pixels)[0]

    pooled = forward()
    check = [pooled.sum().item(), pooled.abs().sum().item()]
    serve_or_run(lambda: forward(), a.warmup, a.repeats, a.serve,
                 {"side": "py", "workload": a.workload, "threads": torch.get_num_threads(), "check": check,
                  "torch": torch.__version__})


if __name__ == "__main__":
    main()
