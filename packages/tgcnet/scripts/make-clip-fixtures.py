#!/usr/bin/python3
"""Reference values for tgcnet's CLIP, from an independent PyTorch implementation.

Run with the system Python that has torch (Debian's python3-torch):

    cd packages/tgcnet && /usr/bin/python3 scripts/make-clip-fixtures.py

The model below is written from the published OpenAI CLIP architecture (the structure of
OpenAI's clip/model.py: VisionTransformer, Transformer of ResidualAttentionBlock built on
torch.nn.MultiheadAttention, QuickGELU, ln_post on the class token, ``x @ proj``; the text
tower with a causal mask, ln_final and pooling at the end-of-text token), not translated
from the TypeScript code. For inputs other than the native size the position grid is
resized as Hugging Face's ``interpolate_pos_encoding`` does: bicubic,
``align_corners=False``, class position kept.

Weights are drawn in float32 from a fixed seed (large enough that mistakes show), the
forward passes run in float64, and the results are stored as float32. Everything goes into
one safetensors file, written here by hand (8-byte little-endian header length, JSON
header, raw little-endian bytes):

    weights.<OpenAI key>   float32, OpenAI naming (visual.*, transformer.resblocks.N.*, ...)
    input.pixels32         [2, 3, 32, 32]      input.pixels48  [2, 3, 48, 48]
    input.ids              [2, 77] int64       input.eot       [2] int64
    output.image32         [2, E] pooled, projected, not normalised
    output.image48         [2, E] the same at 48 x 48 (positions resized bicubically)
    output.dense32         [2, E, h, w] ln_post + projection on every patch token
    output.tap1_32         [2, W, h, w] block 1 output, patch tokens
    output.tap2_32         [2, W, h, w] block 2 output, patch tokens
    output.text            [2, E] pooled, projected, not normalised
    output.text_tokens     [2, 77, W] every token after ln_final

The Hugging Face config.json of the model is stored as JSON in ``__metadata__["config"]``.
"""

import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SEED = 20240611
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'clip-reference.safetensors')

# The 'tiny' preset, in Hugging Face config.json form.
CONFIG = {
    'vision_config': {
        'hidden_size': 32,
        'intermediate_size': 128,
        'num_hidden_layers': 2,
        'num_attention_heads': 2,
        'image_size': 32,
        'patch_size': 8,
        'num_channels': 3,
        'hidden_act': 'quick_gelu',
        'layer_norm_eps': 1e-5,
    },
    'text_config': {
        'vocab_size': 49408,
        'hidden_size': 32,
        'intermediate_size': 128,
        'num_hidden_layers': 2,
        'num_attention_heads': 2,
        'max_position_embeddings': 77,
        'hidden_act': 'quick_gelu',
        'layer_norm_eps': 1e-5,
    },
    'projection_dim': 16,
    'logit_scale_init_value': 2.6592,
}

SOT, EOT = 49406, 49407


# ---------------------------------------------------------------------------------------
# The model: OpenAI's published architecture.


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, mlp_width, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ('c_fc', nn.Linear(d_model, mlp_width)),
                    ('gelu', QuickGELU()),
                    ('c_proj', nn.Linear(mlp_width, d_model)),
                ]
            )
        )
        self.ln_2 = nn.LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x):
        mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_width, attn_mask=None):
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, mlp_width, attn_mask) for _ in range(layers)])

    def forward(self, x, keep=()):
        """x [L, N, D] (sequence first, as OpenAI). Returns the output and the outputs of the
        1-based blocks listed in `keep`."""
        kept = {}
        for k, block in enumerate(self.resblocks, start=1):
            x = block(x)
            if k in keep:
                kept[k] = x
        return x, kept


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, mlp_width, output_dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.patch_size = patch_size
        self.grid = input_resolution // patch_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(self.grid**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, mlp_width)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def positions(self, h, w):
        """Position embeddings for an h x w patch grid (Hugging Face's interpolate_pos_encoding)."""
        pos = self.positional_embedding
        if h == self.grid and w == self.grid:
            return pos
        width = pos.shape[1]
        cls_pos = pos[:1]
        grid = pos[1:].reshape(1, self.grid, self.grid, width).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(h * w, width)
        return torch.cat([cls_pos, grid], dim=0)

    def forward(self, x, taps=()):
        x = self.conv1(x)  # [B, width, h, w]
        B, width, h, w = x.shape
        x = x.reshape(B, width, h * w).permute(0, 2, 1)  # [B, h*w, width]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(B, 1, width, dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1)  # [B, 1 + h*w, width]
        x = x + self.positions(h, w).to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x, kept = self.transformer(x, keep=taps)
        x = x.permute(1, 0, 2)  # LND -> NLD

        def to_map(t):  # [L, B, width] -> patch tokens as [B, width, h, w]
            t = t.permute(1, 0, 2)[:, 1:, :]
            return t.permute(0, 2, 1).reshape(B, t.shape[2], h, w)

        pooled = self.ln_post(x[:, 0, :]) @ self.proj
        dense_tokens = self.ln_post(x) @ self.proj  # [B, 1 + h*w, E]
        dense = dense_tokens[:, 1:, :].permute(0, 2, 1).reshape(B, dense_tokens.shape[2], h, w)
        return pooled, dense, {k: to_map(t) for k, t in kept.items()}


class CLIP(nn.Module):
    def __init__(self, config):
        super().__init__()
        v, t = config['vision_config'], config['text_config']
        embed_dim = config['projection_dim']
        self.context_length = t['max_position_embeddings']
        self.visual = VisionTransformer(
            input_resolution=v['image_size'],
            patch_size=v['patch_size'],
            width=v['hidden_size'],
            layers=v['num_hidden_layers'],
            heads=v['num_attention_heads'],
            mlp_width=v['intermediate_size'],
            output_dim=embed_dim,
        )
        self.transformer = Transformer(
            width=t['hidden_size'],
            layers=t['num_hidden_layers'],
            heads=t['num_attention_heads'],
            mlp_width=t['intermediate_size'],
            attn_mask=self.build_attention_mask(),
        )
        self.vocab_size = t['vocab_size']
        self.token_embedding = nn.Embedding(t['vocab_size'], t['hidden_size'])
        self.positional_embedding = nn.Parameter(torch.empty(self.context_length, t['hidden_size']))
        self.ln_final = nn.LayerNorm(t['hidden_size'])
        self.text_projection = nn.Parameter(torch.empty(t['hidden_size'], embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(config['logit_scale_init_value']))

    def build_attention_mask(self):
        # Additive causal mask: -inf strictly above the diagonal, zero elsewhere.
        mask = torch.empty(self.context_length, self.context_length)
        mask.fill_(float('-inf'))
        mask.triu_(1)
        return mask

    def encode_image(self, image, taps=()):
        return self.visual(image, taps=taps)

    def encode_text(self, text):
        x = self.token_embedding(text)  # [B, L, d_model]
        x = x + self.positional_embedding[: text.shape[1]]
        x = x.permute(1, 0, 2)  # NLD -> LND
        x, _ = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        tokens = self.ln_final(x)
        # Features at the end-of-text token (the highest id in each sequence).
        pooled = tokens[torch.arange(tokens.shape[0]), text.argmax(dim=-1)] @ self.text_projection
        return pooled, tokens


# ---------------------------------------------------------------------------------------
# Random weights, large enough that a wrong operation shows.


def randomize(model, gen):
    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std

    layer_norms = {name for name, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            owner, _, leaf = name.rpartition('.')
            if name == 'logit_scale':
                continue
            if owner in layer_norms and leaf == 'weight':
                value = 1.0 + normal(p.shape, 0.1)
            elif leaf in ('bias', 'in_proj_bias'):
                value = normal(p.shape, 0.1)
            elif name in ('visual.class_embedding', 'visual.positional_embedding', 'positional_embedding', 'token_embedding.weight'):
                value = normal(p.shape, 0.5)
            else:  # linear, conv, in_proj and projection weights
                value = normal(p.shape, 0.2)
            p.copy_(value)


# ---------------------------------------------------------------------------------------
# safetensors, written by hand.

DTYPES = {torch.float32: ('F32', '<f4'), torch.int64: ('I64', '<i8')}


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, np_dtype = DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype, copy=False).tobytes(order='C')
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * ((8 - len(head) % 8) % 8)  # data section 8-byte aligned
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    torch.manual_seed(SEED)  # the modules' own init; every value is overwritten below
    gen = torch.Generator().manual_seed(SEED)
    model = CLIP(CONFIG)
    randomize(model, gen)
    weights = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    # Inputs.
    pixels32 = torch.randn((2, 3, 32, 32), generator=gen, dtype=torch.float32)
    pixels48 = torch.randn((2, 3, 48, 48), generator=gen, dtype=torch.float32)
    L = CONFIG['text_config']['max_position_embeddings']
    ids = torch.zeros((2, L), dtype=torch.int64)
    ids[0, :6] = torch.tensor([SOT, 320, 1125, 539, 2368, EOT])
    ids[1, 0] = SOT
    ids[1, 1:20] = torch.randint(1, SOT, (19,), generator=gen, dtype=torch.int64)
    ids[1, 20] = EOT
    eot = torch.tensor([5, 20], dtype=torch.int64)
    assert torch.equal(ids.argmax(dim=-1), eot), 'end-of-text must be the highest id of each row'

    # Forward passes in float64.
    model = model.double().eval()
    with torch.no_grad():
        image32, dense32, taps32 = model.encode_image(pixels32.double(), taps=(1, 2))
        image48, _, _ = model.encode_image(pixels48.double())
        text, text_tokens = model.encode_text(ids)

    g = CONFIG['vision_config']['image_size'] // CONFIG['vision_config']['patch_size']
    E, Wv, Wt = CONFIG['projection_dim'], CONFIG['vision_config']['hidden_size'], CONFIG['text_config']['hidden_size']
    assert image32.shape == (2, E) and image48.shape == (2, E) and text.shape == (2, E)
    assert dense32.shape == (2, E, g, g) and taps32[1].shape == (2, Wv, g, g) and text_tokens.shape == (2, L, Wt)

    tensors = {f'weights.{k}': v for k, v in weights.items()}
    tensors.update(
        {
            'input.pixels32': pixels32,
            'input.pixels48': pixels48,
            'input.ids': ids,
            'input.eot': eot,
            'output.image32': image32.float(),
            'output.image48': image48.float(),
            'output.dense32': dense32.float(),
            'output.tap1_32': taps32[1].float(),
            'output.tap2_32': taps32[2].float(),
            'output.text': text.float(),
            'output.text_tokens': text_tokens.float(),
        }
    )
    metadata = {
        'config': json.dumps(CONFIG),
        'generator': 'packages/tgcnet/scripts/make-clip-fixtures.py',
        'torch': torch.__version__,
        'seed': str(SEED),
        'precision': 'weights and inputs float32; forward passes in float64; outputs rounded to float32',
    }
    out = os.path.normpath(OUT)
    write_safetensors(out, tensors, metadata)
    print(f'wrote {out} ({os.path.getsize(out)} bytes, {len(tensors)} tensors, torch {torch.__version__})')
    for name in ('output.image32', 'output.image48', 'output.text'):
        print(f'  {name}[0, :4] = {tensors[name][0, :4].tolist()}')


if __name__ == '__main__':
    sys.exit(main())
