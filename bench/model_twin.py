#!/usr/bin/python3
"""TGC-Net benchmark, PyTorch twin of bench/model.mjs (Debian python3-torch 1.13).

The whole TGC-Net training step written in idiomatic PyTorch from our TypeScript sources
(packages/tgcnet/src/model/*.ts: tgcnet.ts, cnn.ts, blocks.ts, sse.ts, msdeform_attn.ts,
date.ts, vlcm.ts, decoder.ts, text_reconstruction.ts, and train/loss.ts for the loss): frozen
CLIP ViT (bench/clip_twin.py's OpenAI tower, eval, no_grad, block taps and dense projected
tokens), the GroupNorm CNN branch, the SSE (1x1 projections + Deformable-DETR encoder layers
with the reference PyTorch MSDeformAttn on grid_sample), DATE, the VLCM (gated, bidirectional or
none), the cost decoder (CoordConv channels, position-text cost, text FiLM, text gate: pooled,
token union or grid), and the training-only heads (text reconstruction, text-pixel logits).
Module names equal our TS state-dict keys, so the weights load as they are (CLIP vision keys
are mapped as in clip_twin.py). The config (a TgcConfig, from the file's metadata) decides
which parts exist, as in the TS constructors.

The CLIP text tower is not here: it is frozen and its features are cached per prompt on the
TS side, so a training step never runs it; its features for the benchmark prompts are read
from the file like the pixels. Hence not supported: clipTrainable (a trained text tower) and
the encoder modes 'cnn-only' / 'vit-only' (bench/model.mjs --prepare needs both encoders).

Everything (config as metadata, weights, inputs, stage inputs) comes from the safetensors
file bench/model.mjs --prepare writes.

    /usr/bin/python3 bench/model_twin.py --workload step|clip|cnn|sse|head|matmul --data FILE \
        [--threads N] [--warmup N] [--repeats N] [--count-flops] [--serve]
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from twinlib import count_flops, read_safetensors, serve_or_run  # noqa: E402
from clip_twin import VisionTransformer, hf_to_openai_vision  # noqa: E402


# ---------------------------------------------------------------- blocks (blocks.ts, cnn.ts)
def groups_for(c):
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


class ConvNormAct(nn.Module):
    def __init__(self, cin, cout, k=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        self.norm = nn.GroupNorm(groups_for(cout), cout)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvNormAct(c, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(groups_for(c), c)

    def forward(self, x):
        return F.relu(x + self.norm2(self.conv2(self.conv1(x))))


class CnnStage(nn.Module):
    def __init__(self, cin, cout, depth, stride):
        super().__init__()
        self.down = ConvNormAct(cin, cout, 3, stride)
        self.blocks = nn.ModuleList([ResidualBlock(cout) for _ in range(depth)])

    def forward(self, x):
        x = self.down(x)
        for b in self.blocks:
            x = b(x)
        return x


class CnnBranch(nn.Module):
    def __init__(self, stem, widths, depths):
        super().__init__()
        self.stem = ConvNormAct(3, stem, 3, 2)
        chans = [stem] + list(widths)
        self.stages = nn.ModuleList([CnnStage(chans[i], chans[i + 1], depths[i], 2) for i in range(4)])

    def forward(self, x):
        out = []
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
            out.append(x)
        return out


# ---------------------------------------------------------------- SSE (sse.ts, msdeform_attn.ts)
def ms_deform_attn_core_pytorch(value, shapes, sampling_locations, attention_weights):
    """Deformable DETR's reference implementation (models/ops/functions/ms_deform_attn_func.py)."""
    N_, S_, M_, D_ = value.shape
    _, Lq_, M_, L_, P_, _ = sampling_locations.shape
    value_list = value.split([h * w for h, w in shapes], dim=1)
    sampling_grids = 2 * sampling_locations - 1
    sampling_value_list = []
    for lid_, (H_, W_) in enumerate(shapes):
        value_l_ = value_list[lid_].flatten(2).transpose(1, 2).reshape(N_ * M_, D_, H_, W_)
        sampling_grid_l_ = sampling_grids[:, :, :, lid_].transpose(1, 2).flatten(0, 1)
        sampling_value_l_ = F.grid_sample(value_l_, sampling_grid_l_, mode="bilinear", padding_mode="zeros", align_corners=False)
        sampling_value_list.append(sampling_value_l_)
    attention_weights = attention_weights.transpose(1, 2).reshape(N_ * M_, 1, Lq_, L_ * P_)
    output = (torch.stack(sampling_value_list, dim=-2).flatten(-2) * attention_weights).sum(-1).view(N_, M_ * D_, Lq_)
    return output.transpose(1, 2).contiguous()


class MSDeformAttn(nn.Module):
    def __init__(self, d_model, n_levels, n_heads, n_points):
        super().__init__()
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)

    def forward(self, query, reference_points, input_flatten, shapes):
        N, Lq, _ = query.shape
        Lin = input_flatten.shape[1]
        H, L, P = self.n_heads, self.n_levels, self.n_points
        value = self.value_proj(input_flatten).view(N, Lin, H, self.d_model // H)
        sampling_offsets = self.sampling_offsets(query).view(N, Lq, H, L, P, 2)
        attention_weights = F.softmax(self.attention_weights(query).view(N, Lq, H, L * P), -1).view(N, Lq, H, L, P)
        offset_normalizer = torch.tensor([[w, h] for h, w in shapes], dtype=query.dtype)
        sampling_locations = reference_points[:, :, None, :, None, :] + sampling_offsets / offset_normalizer[None, None, None, :, None, :]
        return self.output_proj(ms_deform_attn_core_pytorch(value, shapes, sampling_locations, attention_weights))


class SseEncoderLayer(nn.Module):
    """Deformable DETR's DeformableTransformerEncoderLayer (post-norm, ReLU)."""

    def __init__(self, d, heads, points, ffn, dropout):
        super().__init__()
        self.self_attn = MSDeformAttn(d, 3, heads, points)
        self.norm1 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm2 = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src, pos, reference_points, shapes):
        src2 = self.self_attn(src + pos, reference_points, src, shapes)
        src = self.norm1(src + self.dropout(src2))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout(src2))


def sine_position_embedding(h, w, channels, temperature=10000):
    """DETR's PositionEmbeddingSine(normalize=True) for an unpadded h x w map: [1, C, h, w]."""
    half = channels // 2
    scale = 2 * math.pi
    y_embed = torch.arange(1, h + 1, dtype=torch.float32) / (h + 1e-6) * scale
    x_embed = torch.arange(1, w + 1, dtype=torch.float32) / (w + 1e-6) * scale
    dim_t = torch.arange(half, dtype=torch.float32)
    dim_t = temperature ** (2 * (dim_t // 2) / half)
    pos_y = y_embed[:, None] / dim_t
    pos_x = x_embed[:, None] / dim_t
    pos_y = torch.stack((pos_y[:, 0::2].sin(), pos_y[:, 1::2].cos()), dim=2).flatten(1)
    pos_x = torch.stack((pos_x[:, 0::2].sin(), pos_x[:, 1::2].cos()), dim=2).flatten(1)
    pos = torch.cat((pos_y[:, None, :].expand(h, w, half), pos_x[None, :, :].expand(h, w, half)), dim=2)
    return pos.permute(2, 0, 1).unsqueeze(0).contiguous()


def encoder_reference_points(shapes):
    """Pixel centres of every level, normalised: [1, sum(HW), levels, 2] as (x, y)."""
    pts = []
    for h, w in shapes:
        ref_y, ref_x = torch.meshgrid(torch.linspace(0.5, h - 0.5, h, dtype=torch.float32),
                                      torch.linspace(0.5, w - 0.5, w, dtype=torch.float32), indexing="ij")
        pts.append(torch.stack((ref_x.reshape(-1) / w, ref_y.reshape(-1) / h), -1))
    ref = torch.cat(pts, 0)
    return ref[None, :, None, :].expand(1, -1, len(shapes), 2).contiguous()


class Sse(nn.Module):
    def __init__(self, d, cnn_channels, vit_channels, sides, layers, heads, points, ffn, dropout):
        super().__init__()
        self.d, self.sides = d, sides
        self.cnn_proj = nn.ModuleList([nn.Conv2d(c, d, 1) for c in cnn_channels])
        self.vit_proj = nn.ModuleList([nn.Conv2d(vit_channels, d, 1) for _ in range(3)])
        # modules.sse false: no deformable layers (and no level embedding), projections only.
        self.level_embed = nn.Parameter(torch.zeros(3, d)) if layers > 0 else None
        self.layers = nn.ModuleList([SseEncoderLayer(d, heads, points, ffn, dropout) for _ in range(layers)]) if layers > 0 else None

    def forward(self, cnn, vit):
        levels = []
        for l, side in enumerate(self.sides):
            x = self.cnn_proj[l](cnn[l])
            v = self.vit_proj[l](vit[l])
            if v.shape[-2:] != (side, side):
                v = F.interpolate(v, size=(side, side), mode="bilinear", align_corners=False)
            levels.append(x + v)
        if self.layers is None:
            return levels
        shapes = [(x.shape[2], x.shape[3]) for x in levels]
        B, d = levels[0].shape[0], self.d
        src = torch.cat([x.flatten(2).transpose(1, 2) for x in levels], 1)
        pos = torch.cat([(sine_position_embedding(h, w, d) + self.level_embed[l].view(1, d, 1, 1)).flatten(2).transpose(1, 2)
                         for l, (h, w) in enumerate(shapes)], 1).expand(B, -1, d)
        reference = encoder_reference_points(shapes).expand(B, -1, 3, 2)
        for layer in self.layers:
            src = layer(src, pos, reference, shapes)
        return [s.transpose(1, 2).reshape(B, d, h, w) for s, (h, w) in zip(src.split([h * w for h, w in shapes], 1), shapes)]


# ---------------------------------------------------------------- DATE, VLCM (date.ts, vlcm.ts)
def masked_mean(x, mask):
    m = mask.float().unsqueeze(-1)
    return (x * m).sum(1) / m.sum(1).clamp(1)


class Date(nn.Module):
    """with_aux: the aux-injection cross-attention; tokens_needed: token features for the VLCM or the union gate."""

    def __init__(self, clip_embed, clip_width, d, heads, with_aux, tokens_needed):
        super().__init__()
        self.pooled_proj = nn.Linear(clip_embed, d)
        self.mean_proj = nn.Linear(clip_width, d)
        self.token_proj = nn.Linear(clip_width, d) if with_aux or tokens_needed else None
        if with_aux:
            self.aux_proj = nn.Linear(clip_width, d)
            self.cross_attn = nn.MultiheadAttention(d, heads, batch_first=True)
            self.out_proj = nn.Linear(d, d)
        else:
            self.aux_proj = self.cross_attn = self.out_proj = None
        self.norm = nn.LayerNorm(d)

    def forward(self, primary, aux, present):
        tp = self.token_proj(primary["tokens"]) if self.token_proj is not None else None
        pooled = self.pooled_proj(primary["pooled"]) + self.mean_proj(masked_mean(primary["tokens"], primary["mask"]))
        if self.cross_attn is None or aux is None:
            return {"pooled": self.norm(pooled), "tokens": tp, "mask": primary["mask"]}
        ta = self.aux_proj(aux["tokens"])
        attended = self.cross_attn(ta, tp, tp, key_padding_mask=~primary["mask"], need_weights=False)[0]
        if present is None:
            present = torch.ones(aux["mask"].shape[0])
        pooled = pooled + self.out_proj(masked_mean(attended, aux["mask"])) * present.reshape(-1, 1)
        aux_mask = aux["mask"] & (present.reshape(-1, 1) > 0)
        return {"pooled": self.norm(pooled), "tokens": torch.cat([tp, attended], 1),
                "mask": torch.cat([primary["mask"], aux_mask], 1)}


class ResidualAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm = nn.LayerNorm(d)

    def forward(self, query, context, padding=None, query_pos=None):
        q = query if query_pos is None else query + query_pos  # DETR style: position on the query only
        return self.norm(query + self.attn(q, context, context, key_padding_mask=padding, need_weights=False)[0])


def level_positions(x):
    """Sine position embedding of a level [B, d, h, w], flattened to [1, h*w, d]."""
    return sine_position_embedding(x.shape[2], x.shape[3], x.shape[1]).flatten(2).transpose(1, 2)


def flat(x):
    return x.flatten(2).transpose(1, 2)


def require_tokens(text):
    if text["tokens"] is None:
        raise ValueError("VLCM: the text encoder produced no token features")
    return text["tokens"]


class GatedVlcm(nn.Module):
    def __init__(self, d, heads, context_tokens):
        super().__init__()
        self.context_queries = nn.Parameter(torch.zeros(context_tokens, d))
        self.read_visual = nn.MultiheadAttention(d, heads, batch_first=True)
        self.read_text = nn.MultiheadAttention(d, heads, batch_first=True)
        self.gate = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, d))
        self.visual_calib = ResidualAttention(d, heads)
        self.text_calib = ResidualAttention(d, heads)
        self.pooled_calib = ResidualAttention(d, heads)

    def forward(self, levels, text):
        tokens, mask = require_tokens(text), text["mask"]
        B = levels[0].shape[0]
        visual = flat(levels[-1])
        queries = self.context_queries.unsqueeze(0).expand(B, -1, -1)
        from_v = self.read_visual(queries, visual, visual, need_weights=False)[0]
        from_t = self.read_text(queries, tokens, tokens, key_padding_mask=~mask, need_weights=False)[0]
        g = torch.sigmoid(self.gate(torch.cat([visual.mean(1), text["pooled"]], 1))).unsqueeze(1)
        context = from_v * g + from_t * (1 - g)
        calibrated = [self.visual_calib(flat(x), context, None, level_positions(x)).transpose(1, 2).reshape(x.shape) for x in levels]
        tokens = self.text_calib(tokens, context)
        padding = torch.cat([torch.zeros(B, context.shape[1], dtype=torch.bool), ~mask], 1)
        pooled = self.pooled_calib(text["pooled"].unsqueeze(1), torch.cat([context, tokens], 1), padding).squeeze(1)
        return calibrated, {"pooled": pooled, "tokens": tokens, "mask": mask}


class BidirectionalVlcm(nn.Module):
    """The ablation: V attends T, T attends V."""

    def __init__(self, d, heads):
        super().__init__()
        self.visual_calib = ResidualAttention(d, heads)
        self.text_calib = ResidualAttention(d, heads)
        self.pooled_calib = ResidualAttention(d, heads)

    def forward(self, levels, text):
        tokens, mask = require_tokens(text), text["mask"]
        padding = ~mask
        visual = flat(levels[-1])
        calibrated = [self.visual_calib(flat(x), tokens, padding, level_positions(x)).transpose(1, 2).reshape(x.shape) for x in levels]
        tokens = self.text_calib(tokens, visual)
        B = visual.shape[0]
        key_padding = torch.cat([torch.zeros(B, visual.shape[1], dtype=torch.bool), padding], 1)
        pooled = self.pooled_calib(text["pooled"].unsqueeze(1), torch.cat([visual, tokens], 1), key_padding).squeeze(1)
        return calibrated, {"pooled": pooled, "tokens": tokens, "mask": mask}


# ---------------------------------------------------------------- decoder (decoder.ts)
def coordinate_channels(batch, h, w):
    """x and y in [-1, 1] as two extra input channels (CoordConv): [B, 2, h, w]."""
    xs = torch.linspace(-1, 1, w).reshape(1, 1, 1, w).expand(batch, 1, h, w)
    ys = torch.linspace(-1, 1, h).reshape(1, 1, h, 1).expand(batch, 1, h, w)
    return torch.cat([xs, ys], 1)


def pixel_text_cosine(pixels, text):
    return (F.normalize(pixels, dim=1) * F.normalize(text, dim=1)[:, :, None, None]).sum(1, keepdim=True)


def product_logit(a, b):
    """The logit of sigmoid(a) * sigmoid(b), in the log domain."""
    log_p = (-(F.softplus(-a) + F.softplus(-b))).clamp(-80, -1e-7)
    return log_p - torch.log1p(-log_p.exp())


def position_keys(linear, h, w, d):
    """A Linear over each pixel's sine position code: [1, h*w, out]."""
    return linear(sine_position_embedding(h, w, d).flatten(2).transpose(1, 2))


class CostDecoder(nn.Module):
    def __init__(self, d, C, blocks, up, high_res, clip_cost=True, position_cost=False, text_gate=False, gate_union=False, gate_grid=0):
        super().__init__()
        self.d, self.C, self.clip_cost = d, C, clip_cost
        self.gate_union, self.gate_grid = gate_union, gate_grid
        self.guidance = nn.ModuleList([nn.Conv2d(d, C, 1) for _ in range(3)])
        extra = lambda l: 1 + (1 if position_cost else 0) + 2 + (1 if l == 2 and clip_cost else 0)  # noqa: E731
        self.cost_embed = nn.ModuleList([ConvNormAct(C + extra(l), C) for l in range(3)])
        self.position_key = nn.Linear(d, C) if position_cost else None
        self.position_query = nn.Linear(d, C) if position_cost else None
        self.text_guidance = nn.ModuleList([nn.Linear(d, 2 * C) for _ in range(3)])  # per-channel scale, shift (FiLM)
        self.aggregation = nn.ModuleList([ResidualBlock(C) for _ in range(blocks)])
        self.up16 = ConvNormAct(C + C, up[0])
        self.up8 = ConvNormAct(up[0] + C, up[1])
        self.up4 = ConvNormAct(up[1] + high_res, up[2])
        self.head = nn.Conv2d(up[2], 1, 1)
        self.gate_key = nn.Linear(d, C) if text_gate and gate_grid == 0 else None
        self.gate_query = nn.Linear(d, gate_grid * gate_grid if gate_grid > 0 else C + 1) if text_gate else None

    def forward(self, levels, text, clip_cost, high_res, label_size, tokens=None):
        def up(x, like):
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

        C = self.C
        embedded = []
        for l, x in enumerate(levels):
            B, _, hl, wl = x.shape
            parts = [pixel_text_cosine(x, text), self.guidance[l](x), coordinate_channels(B, hl, wl)]
            if self.position_key is not None:
                keys = position_keys(self.position_key, hl, wl, self.d)                  # [1, hw, C]
                query = self.position_query(text).unsqueeze(-1)                          # [B, C, 1]
                parts.append((keys @ query / math.sqrt(C)).transpose(1, 2).reshape(B, 1, hl, wl))
            if l == 2 and self.clip_cost:
                parts.append(clip_cost if clip_cost.shape[-2:] == x.shape[-2:] else up(clip_cost, x))
            scale, shift = self.text_guidance[l](text)[:, :, None, None].chunk(2, 1)
            embedded.append(self.cost_embed[l](torch.cat(parts, 1)) * (scale + 1) + shift)
        h = embedded[2]
        for b in self.aggregation:
            h = b(h)
        h = self.up16(torch.cat([up(h, embedded[1]), embedded[1]], 1))
        h = self.up8(torch.cat([up(h, embedded[0]), embedded[0]], 1))
        h = self.up4(torch.cat([up(h, high_res), high_res], 1))
        logits = self.head(h)
        B, _, hh, ww = logits.shape
        if self.gate_query is not None and self.gate_grid > 0:
            # The text writes a coarse gate_grid x gate_grid map, upsampled.
            coarse = self.gate_query(text).reshape(B, 1, self.gate_grid, self.gate_grid)
            logits = product_logit(logits, F.interpolate(coarse, size=(hh, ww), mode="bilinear", align_corners=False))
        elif self.gate_query is not None:
            keys = position_keys(self.gate_key, hh, ww, self.d)                          # [1, HW, C]
            if self.gate_union:
                # One map per text token, joined by a log-mean-exp over the real ones.
                if tokens is None:
                    raise ValueError("decoder: the union gate needs the text tokens")
                q = self.gate_query(tokens["tokens"])                                    # [B, N, C + 1]
                maps = q[..., :C] @ keys.transpose(1, 2) / math.sqrt(C) + q[..., C:]     # [B, N, HW]
                real = tokens["mask"].unsqueeze(-1)
                lse = torch.logsumexp(maps.masked_fill(~real, -1e4), 1)
                gate = (lse - real.float().sum(1).clamp(1).log()).reshape(B, 1, hh, ww)
            else:
                q = self.gate_query(text)                                                # [B, C + 1]: query, then bias
                gate = (keys @ q[:, :C].unsqueeze(-1) / math.sqrt(C) + q[:, C:].unsqueeze(-1)).transpose(1, 2).reshape(B, 1, hh, ww)
            logits = product_logit(logits, gate)
        return F.interpolate(logits, size=label_size, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- text reconstruction (text_reconstruction.ts)
def _fnv1a_bucket(ids, buckets):
    """FNV-1a over the ids (low then high 16 bits of each), folded into `buckets`; as bucketOf."""
    h = 2166136261
    for i in ids:
        h = ((h ^ (i & 0xFFFF)) * 16777619) & 0xFFFFFFFF
        h = ((h ^ (i >> 16)) * 16777619) & 0xFFFFFFFF
    return h % buckets


def ngram_targets(ids, eot, buckets):
    """Multi-hot [B, buckets]: unigrams and bigrams of ids[b, 1:eot[b]] (start and end-of-text excluded)."""
    rows = ids.tolist()
    target = torch.zeros(len(rows), buckets)
    for b, row in enumerate(rows):
        body = row[1:int(eot[b])]
        for i, t in enumerate(body):
            target[b, _fnv1a_bucket([t], buckets)] = 1
            if i + 1 < len(body):
                target[b, _fnv1a_bucket([t, body[i + 1]], buckets)] = 1
    return target


class TextReconstructionHead(nn.Module):
    def __init__(self, d, buckets):
        super().__init__()
        self.buckets = buckets
        self.proj = nn.Linear(d, buckets)

    def loss(self, text, ids, eot):
        """Class-balanced BCE: present and absent buckets weigh the same."""
        target = ngram_targets(ids, eot, self.buckets)
        positives = target.sum(1, keepdim=True).clamp(1)
        negatives = (1 - target).sum(1, keepdim=True).clamp(1)
        weight = (target / positives + (1 - target) / negatives) * 0.5
        per_bucket = F.binary_cross_entropy_with_logits(self.proj(text), target, reduction="none")
        return (per_bucket * weight).sum(1).mean()


# ---------------------------------------------------------------- losses (train/loss.ts, train.ts)
def segmentation_loss(logits, masks, smooth=1.0):
    """0.5 soft Dice + 0.5 BCE-with-logits (LViT's convention)."""
    p = torch.sigmoid(logits).flatten(1)
    t = masks.flatten(1)
    dice = (1 - ((p * t).sum(1) * 2 + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()
    return 0.5 * dice + 0.5 * F.binary_cross_entropy_with_logits(logits, masks)


def pixel_text_loss(logits, masks):
    return F.binary_cross_entropy_with_logits(logits, F.adaptive_avg_pool2d(masks, logits.shape[-2:]))


def training_loss(out, masks, config):
    """The loss of a training step (train.ts): segmentation + text reconstruction + weighted text-pixel."""
    logits, text_loss, pixel_text_logits = out
    loss = segmentation_loss(logits, masks)
    if text_loss is not None:
        loss = loss + text_loss
    if pixel_text_logits is not None:
        loss = loss + pixel_text_loss(pixel_text_logits, masks) * config["objective"]["textPixel"]
    return loss


# ---------------------------------------------------------------- TGC-Net (tgcnet.ts)
OBJECTIVE_DEFAULTS = {"textReconstruction": 0, "reconstructionBuckets": 512, "textPixel": 0}
DECODER_DEFAULTS = {"positionCost": False, "textGate": False, "gateUnion": False, "gateGrid": 0}


class TgcNet(nn.Module):
    def __init__(self, c, clip):
        super().__init__()
        if c["encoder"] not in ("hybrid", "vit-finetune"):
            raise NotImplementedError(f"model_twin: encoder '{c['encoder']}' (bench/model.mjs needs both the ViT and the CNN)")
        if c["clipTrainable"]:
            raise NotImplementedError("model_twin: clipTrainable (the twin has no CLIP text tower)")
        v = clip["vision_config"]
        dec = {**DECODER_DEFAULTS, **c["decoder"]}
        if dec.get("gateFineGrid", 0) != 0 or dec.get("outputStride", 4) != 4:
            raise NotImplementedError("model_twin: decoder.gateFineGrid and decoder.outputStride 2 (options off in every preset; the twin does not build them)")
        obj = {**OBJECTIVE_DEFAULTS, **c.get("objective", {})}
        self.c = c
        self.vision_trainable = c["encoder"] == "vit-finetune"
        self.clip_vision = VisionTransformer(v["hidden_size"], v["num_hidden_layers"], v["num_attention_heads"], v["image_size"],
                                             v["patch_size"], clip["projection_dim"])
        self.clip_vision.requires_grad_(self.vision_trainable)
        w = c["cnn"]["widths"]
        self.cnn = CnnBranch(c["cnn"]["stem"], w, c["cnn"]["depths"])
        s = c["cnnInput"]
        m = c["modules"]
        self.sse = Sse(c["dModel"], w[1:], v["hidden_size"], (s // 8, s // 16, s // 32), c["sse"]["layers"] if m["sse"] else 0,
                       c["sse"]["heads"], c["sse"]["points"], c["sse"]["ffn"], c["dropout"])
        text_gate = dec["textGate"]
        gate_union = text_gate and dec["gateUnion"]
        align = c["alignment"] if m["vlcm"] else "none"
        self.date = Date(clip["projection_dim"], clip["text_config"]["hidden_size"], c["dModel"], c["date"]["heads"],
                         with_aux=m["date"] and c["text"] == "aux-injection",
                         tokens_needed=(m["vlcm"] and c["alignment"] != "none") or gate_union)
        if align == "gated":
            self.vlcm = GatedVlcm(c["dModel"], c["vlcm"]["heads"], c["vlcm"]["contextTokens"])
        elif align == "bidirectional":
            self.vlcm = BidirectionalVlcm(c["dModel"], c["vlcm"]["heads"])
        else:
            self.vlcm = None
        self.decoder = CostDecoder(c["dModel"], dec["costChannels"], dec["aggregationBlocks"], dec["upChannels"], w[0],
                                   clip_cost=True, position_cost=dec["positionCost"], text_gate=text_gate, gate_union=gate_union,
                                   gate_grid=dec["gateGrid"] if text_gate else 0)
        has_text = c["text"] != "none"
        self.text_reconstruction_weight = obj["textReconstruction"]
        self.text_reconstruction = (TextReconstructionHead(c["dModel"], obj["reconstructionBuckets"])
                                    if obj["textReconstruction"] > 0 and has_text else None)
        # [scale, bias] of the text-pixel cosine logits.
        self.text_pixel_scale = nn.Parameter(torch.tensor([10.0, -5.0])) if obj["textPixel"] > 0 and has_text else None

    def train(self, mode=True):
        super().train(mode)
        if not self.vision_trainable:
            self.clip_vision.eval()  # frozen CLIP stays in eval mode
        return self

    def clip(self, pixels):
        taps = tuple(self.c["vitTaps"])
        if self.vision_trainable:
            return self.clip_vision(pixels, taps=taps, dense=True)
        with torch.no_grad():
            return self.clip_vision(pixels, taps=taps, dense=True)

    def head(self, pyramid, text, aux, present, clip_dense, high_res, label_size, ids, eot):
        """TgcNet.#decode: (logits, weighted text-reconstruction loss or None, text-pixel logits or None)."""
        joint = self.date(text, aux if self.date.cross_attn is not None else None, present)
        levels, calibrated = self.vlcm(pyramid, joint) if self.vlcm is not None else (pyramid, joint)
        tokens = {"tokens": calibrated["tokens"], "mask": calibrated["mask"]} if calibrated["tokens"] is not None else None
        logits = self.decoder(levels, calibrated["pooled"], pixel_text_cosine(clip_dense, text["pooled"]), high_res, label_size, tokens)
        text_loss = None
        if self.text_reconstruction is not None and self.training:
            text_loss = self.text_reconstruction.loss(joint["pooled"], ids, eot) * self.text_reconstruction_weight
        pixel_text = None
        if self.text_pixel_scale is not None and self.training:
            pixel_text = pixel_text_cosine(levels[0], calibrated["pooled"]) * self.text_pixel_scale[0] + self.text_pixel_scale[1]
        return logits, text_loss, pixel_text

    def forward_train(self, vit_pixels, cnn_pixels, text, aux, present, label_size, ids, eot):
        _, taps, dense = self.clip(vit_pixels)
        maps = self.cnn(cnn_pixels)
        pyramid = self.sse(maps[1:], taps)
        return self.head(pyramid, text, aux, present, dense, maps[0], label_size, ids, eot)

    def forward(self, *args):
        return self.forward_train(*args)[0]


# ---------------------------------------------------------------- workloads
def load(path):
    data, meta = read_safetensors(path, with_metadata=True)
    config = json.loads(meta["config"])
    clip = json.loads(meta["clip"])
    model = TgcNet(config, clip)
    own = {k: t for k, t in data.items() if not k.startswith(("in.", "stage.", "clip_vision."))}
    own.update({f"clip_vision.{k}": t for k, t in hf_to_openai_vision(data, "clip_vision.").items()})
    model.load_state_dict(own, strict=True)
    inputs = {k: t for k, t in data.items() if k.startswith(("in.", "stage."))}
    return model, config, inputs


def trainable(module):
    return [p for p in module.parameters() if p.requires_grad]


def grad_abs_sum(params):
    return sum(p.grad.abs().sum().item() for p in params if p.grad is not None)


def build(workload, path):
    """Returns (step, check) for a workload. step() runs one timed step; check() returns the checksum list."""
    if workload == "matmul":
        torch.manual_seed(0)
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        return (lambda: torch.mm(a, b)), (lambda: [torch.mm(a, b).abs().sum().item()])
    model, c, x = load(path)
    model.train()
    text = {"pooled": x["in.text.pooled"], "tokens": x["in.text.tokens"], "mask": x["in.text.mask"]}
    aux = {"pooled": x["in.aux.pooled"], "tokens": x["in.aux.tokens"], "mask": x["in.aux.mask"]}
    present = x["in.aux_present"]
    ids, eot = x["in.text.ids"], x["in.text.eot"].tolist()
    masks = x["in.masks"]
    label = (c["cnnInput"], c["cnnInput"])
    taps = [x[f"stage.vit_taps.{i}"] for i in range(3)]
    maps = [x[f"stage.cnn_maps.{i}"] for i in range(4)]
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]

    def without_dropout(fn):
        """Checksums run with dropout off (train-mode dropout draws differ between processes); the
        model stays in train mode, so the training-only heads run."""
        def run():
            for m in dropouts:
                m.eval()
            try:
                return fn()
            finally:
                for m in dropouts:
                    m.train()
        return run

    if workload == "clip":
        def clip_step():
            with torch.no_grad():
                return model.clip_vision(x["in.vit_pixels"], taps=tuple(c["vitTaps"]), dense=True)

        def clip_check():
            pooled, t, dense = clip_step()
            return [pooled.sum().item(), pooled.abs().sum().item(), sum(m.abs().sum().item() for m in t), dense.abs().sum().item()]
        return clip_step, clip_check

    if workload == "cnn":
        params = trainable(model.cnn)

        def cnn_step():
            for p in params:
                p.grad = None
            out = model.cnn(x["in.cnn_pixels"])
            loss = sum(m.square().mean() for m in out)
            loss.backward()
            return loss

        def cnn_check():
            loss = cnn_step()
            return [loss.item(), grad_abs_sum(params)]
        return cnn_step, without_dropout(cnn_check)

    if workload == "sse":
        params = trainable(model.sse)
        leaves = [m.clone().requires_grad_() for m in maps[1:]]
        half = c["dModel"] // 2

        def sse_step():
            for p in params + leaves:
                p.grad = None
            out = model.sse(leaves, taps)
            # Half the channels: after the LayerNorm the mean square over all of them is ~1.
            loss = sum(m[:, :half].square().mean() for m in out)
            loss.backward()
            return loss

        def sse_check():
            loss = sse_step()
            return [loss.item(), grad_abs_sum(params), grad_abs_sum(leaves)]
        return sse_step, without_dropout(sse_check)

    if workload == "head":
        heads = [model.date, model.vlcm, model.decoder, model.text_reconstruction]
        params = [p for m in heads if m is not None for p in trainable(m)]
        if model.text_pixel_scale is not None:
            params.append(model.text_pixel_scale)
        pyramid = [x[f"stage.pyramid.{i}"].clone().requires_grad_() for i in range(3)]
        high_res = maps[0].clone().requires_grad_()
        leaves = pyramid + [high_res]
        dense = x["stage.clip_dense"]

        def head_step():
            for p in params + leaves:
                p.grad = None
            loss = training_loss(model.head(pyramid, text, aux, present, dense, high_res, label, ids, eot), masks, c)
            loss.backward()
            return loss

        def head_check():
            loss = head_step()
            return [loss.item(), grad_abs_sum(params), grad_abs_sum(leaves)]
        return head_step, without_dropout(head_check)

    if workload == "step":
        params = trainable(model)

        def full_step():
            for p in params:
                p.grad = None
            out = model.forward_train(x["in.vit_pixels"], x["in.cnn_pixels"], text, aux, present, label, ids, eot)
            loss = training_loss(out, masks, c)
            loss.backward()
            return loss

        def full_check():
            loss = full_step()
            return [loss.item(), grad_abs_sum(params)]
        return full_step, without_dropout(full_check)
    raise SystemExit(f"unknown workload {workload}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="step")
    ap.add_argument("--preset", default=None, help="informational; the file's metadata decides")
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count-flops", action="store_true")
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    step, check = build(a.workload, a.data)
    info = {"side": "py", "workload": a.workload, "threads": torch.get_num_threads(), "check": check(), "torch": torch.__version__}
    if a.count_flops:
        _, counts = count_flops(step)
        info["flops"] = counts
    serve_or_run(step, a.warmup, a.repeats, a.serve, info)


if __name__ == "__main__":
    main()
