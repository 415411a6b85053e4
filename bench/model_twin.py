#!/usr/bin/python3
"""TGC-Net benchmark, PyTorch twin of bench/model.mjs (Debian python3-torch 1.13).

The whole TGC-Net training step written in idiomatic PyTorch from our TypeScript sources
(packages/tgcnet/src/model/*.ts as of commit d0b348f: CoordConv channels and text FiLM in the
decoder, token-mean pooling in DATE, position-augmented pixel queries in the VLCM): frozen CLIP ViT (bench/clip_twin.py's OpenAI tower, eval,
no_grad, block taps and dense projected tokens), the GroupNorm CNN branch, the SSE (1x1
projections + Deformable-DETR encoder layers with the reference PyTorch MSDeformAttn on
grid_sample), DATE, the gated VLCM and the cost decoder. Module names equal our TS state-dict
keys, so the weights load as they are (CLIP vision keys are mapped as in clip_twin.py).
The CLIP text tower is not here: it is frozen and its features are cached per prompt on the
TS side, so a training step never runs it; its features for the benchmark prompts are read
from the file like the pixels.

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
        self.level_embed = nn.Parameter(torch.zeros(3, d))
        self.layers = nn.ModuleList([SseEncoderLayer(d, heads, points, ffn, dropout) for _ in range(layers)])

    def forward(self, cnn, vit):
        levels = []
        for l, side in enumerate(self.sides):
            x = self.cnn_proj[l](cnn[l])
            v = self.vit_proj[l](vit[l])
            if v.shape[-2:] != (side, side):
                v = F.interpolate(v, size=(side, side), mode="bilinear", align_corners=False)
            levels.append(x + v)
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
    def __init__(self, clip_embed, clip_width, d, heads):
        super().__init__()
        self.pooled_proj = nn.Linear(clip_embed, d)
        self.mean_proj = nn.Linear(clip_width, d)
        self.token_proj = nn.Linear(clip_width, d)
        self.aux_proj = nn.Linear(clip_width, d)
        self.cross_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.out_proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, primary, aux, present):
        tp = self.token_proj(primary["tokens"])
        pooled = self.pooled_proj(primary["pooled"]) + self.mean_proj(masked_mean(primary["tokens"], primary["mask"]))
        ta = self.aux_proj(aux["tokens"])
        attended = self.cross_attn(ta, tp, tp, key_padding_mask=~primary["mask"], need_weights=False)[0]
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
        tokens, mask = text["tokens"], text["mask"]
        B = levels[0].shape[0]
        visual = levels[-1].flatten(2).transpose(1, 2)
        queries = self.context_queries.unsqueeze(0).expand(B, -1, -1)
        from_v = self.read_visual(queries, visual, visual, need_weights=False)[0]
        from_t = self.read_text(queries, tokens, tokens, key_padding_mask=~mask, need_weights=False)[0]
        g = torch.sigmoid(self.gate(torch.cat([visual.mean(1), text["pooled"]], 1))).unsqueeze(1)
        context = from_v * g + from_t * (1 - g)
        calibrated = [self.visual_calib(x.flatten(2).transpose(1, 2), context, None, level_positions(x)).transpose(1, 2).reshape(x.shape)
                      for x in levels]
        tokens = self.text_calib(tokens, context)
        padding = torch.cat([torch.zeros(B, context.shape[1], dtype=torch.bool), ~mask], 1)
        pooled = self.pooled_calib(text["pooled"].unsqueeze(1), torch.cat([context, tokens], 1), padding).squeeze(1)
        return calibrated, pooled


# ---------------------------------------------------------------- decoder (decoder.ts)
def coordinate_channels(batch, h, w):
    """x and y in [-1, 1] as two extra input channels (CoordConv): [B, 2, h, w]."""
    xs = torch.linspace(-1, 1, w).reshape(1, 1, 1, w).expand(batch, 1, h, w)
    ys = torch.linspace(-1, 1, h).reshape(1, 1, h, 1).expand(batch, 1, h, w)
    return torch.cat([xs, ys], 1)


def pixel_text_cosine(pixels, text):
    return (F.normalize(pixels, dim=1) * F.normalize(text, dim=1)[:, :, None, None]).sum(1, keepdim=True)


class CostDecoder(nn.Module):
    def __init__(self, d, C, blocks, up, high_res):
        super().__init__()
        self.guidance = nn.ModuleList([nn.Conv2d(d, C, 1) for _ in range(3)])
        self.cost_embed = nn.ModuleList([ConvNormAct(C + 1 + 2 + (1 if l == 2 else 0), C) for l in range(3)])
        self.text_guidance = nn.ModuleList([nn.Linear(d, 2 * C) for _ in range(3)])  # per-channel scale, shift (FiLM)
        self.aggregation = nn.ModuleList([ResidualBlock(C) for _ in range(blocks)])
        self.up16 = ConvNormAct(C + C, up[0])
        self.up8 = ConvNormAct(up[0] + C, up[1])
        self.up4 = ConvNormAct(up[1] + high_res, up[2])
        self.head = nn.Conv2d(up[2], 1, 1)

    def forward(self, levels, text, clip_cost, high_res, label_size):
        def up(x, like):
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

        embedded = []
        for l, x in enumerate(levels):
            parts = [pixel_text_cosine(x, text), self.guidance[l](x), coordinate_channels(x.shape[0], x.shape[2], x.shape[3])]
            if l == 2:
                parts.append(clip_cost if clip_cost.shape[-2:] == x.shape[-2:] else up(clip_cost, x))
            scale, shift = self.text_guidance[l](text)[:, :, None, None].chunk(2, 1)
            embedded.append(self.cost_embed[l](torch.cat(parts, 1)) * (scale + 1) + shift)
        h = embedded[2]
        for b in self.aggregation:
            h = b(h)
        h = self.up16(torch.cat([up(h, embedded[1]), embedded[1]], 1))
        h = self.up8(torch.cat([up(h, embedded[0]), embedded[0]], 1))
        h = self.up4(torch.cat([up(h, high_res), high_res], 1))
        return F.interpolate(self.head(h), size=label_size, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- TGC-Net (tgcnet.ts)
class TgcNet(nn.Module):
    def __init__(self, c, clip):
        super().__init__()
        v = clip["vision_config"]
        self.c = c
        self.clip_vision = VisionTransformer(v["hidden_size"], v["num_hidden_layers"], v["num_attention_heads"], v["image_size"],
                                             v["patch_size"], clip["projection_dim"])
        self.clip_vision.requires_grad_(False)
        w = c["cnn"]["widths"]
        self.cnn = CnnBranch(c["cnn"]["stem"], w, c["cnn"]["depths"])
        s = c["cnnInput"]
        self.sse = Sse(c["dModel"], w[1:], v["hidden_size"], (s // 8, s // 16, s // 32), c["sse"]["layers"], c["sse"]["heads"],
                       c["sse"]["points"], c["sse"]["ffn"], c["dropout"])
        self.date = Date(clip["projection_dim"], clip["text_config"]["hidden_size"], c["dModel"], c["date"]["heads"])
        self.vlcm = GatedVlcm(c["dModel"], c["vlcm"]["heads"], c["vlcm"]["contextTokens"])
        d = c["decoder"]
        self.decoder = CostDecoder(c["dModel"], d["costChannels"], d["aggregationBlocks"], d["upChannels"], w[0])

    def train(self, mode=True):
        super().train(mode)
        self.clip_vision.eval()  # frozen CLIP stays in eval mode
        return self

    def clip(self, pixels):
        with torch.no_grad():
            return self.clip_vision(pixels, taps=tuple(self.c["vitTaps"]), dense=True)

    def head(self, pyramid, text, aux, present, clip_dense, high_res, label_size):
        joint = self.date(text, aux, present)
        levels, pooled = self.vlcm(pyramid, joint)
        return self.decoder(levels, pooled, pixel_text_cosine(clip_dense, text["pooled"]), high_res, label_size)

    def forward(self, vit_pixels, cnn_pixels, text, aux, present, label_size):
        _, taps, dense = self.clip(vit_pixels)
        maps = self.cnn(cnn_pixels)
        pyramid = self.sse(maps[1:], taps)
        return self.head(pyramid, text, aux, present, dense, maps[0], label_size)


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
    label = (c["cnnInput"], c["cnnInput"])
    taps = [x[f"stage.vit_taps.{i}"] for i in range(3)]
    maps = [x[f"stage.cnn_maps.{i}"] for i in range(4)]

    def with_eval(fn):
        """Checksums run with dropout off (train-mode dropout draws differ between processes)."""
        def run():
            model.eval()
            try:
                return fn()
            finally:
                model.train()
        return run

    if workload == "clip":
        def clip_step():
            return model.clip(x["in.vit_pixels"])

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
        return cnn_step, with_eval(cnn_check)

    if workload == "sse":
        params = trainable(model.sse)
        leaves = [m.clone().requires_grad_() for m in maps[1:]]

        def sse_step():
            for p in params + leaves:
                p.grad = None
            out = model.sse(leaves, taps)
            loss = sum(m.square().mean() for m in out)
            loss.backward()
            return loss

        def sse_check():
            loss = sse_step()
            return [loss.item(), grad_abs_sum(params), grad_abs_sum(leaves)]
        return sse_step, with_eval(sse_check)

    if workload == "head":
        params = trainable(model.date) + trainable(model.vlcm) + trainable(model.decoder)
        pyramid = [x[f"stage.pyramid.{i}"].clone().requires_grad_() for i in range(3)]
        high_res = maps[0].clone().requires_grad_()
        leaves = pyramid + [high_res]
        dense = x["stage.clip_dense"]

        def head_step():
            for p in params + leaves:
                p.grad = None
            loss = model.head(pyramid, text, aux, present, dense, high_res, label).square().mean()
            loss.backward()
            return loss

        def head_check():
            loss = head_step()
            return [loss.item(), grad_abs_sum(params), grad_abs_sum(leaves)]
        return head_step, with_eval(head_check)

    if workload == "step":
        params = trainable(model)

        def full_step():
            for p in params:
                p.grad = None
            loss = model(x["in.vit_pixels"], x["in.cnn_pixels"], text, aux, present, label).square().mean()
            loss.backward()
            return loss

        def full_check():
            loss = full_step()
            return [loss.item(), grad_abs_sum(params)]
        return full_step, with_eval(full_check)
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
