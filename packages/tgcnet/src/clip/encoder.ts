// CLIP's transformer: pre-LN residual blocks with Hugging Face's module names
// (self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1/fc2, layer_norm2).
import { F, amp, aten, isGradEnabled, nn, noGrad, tidy, type Tensor } from '@tgcnet/torch';
import type { Activation } from './config.js';

export class ClipAttention extends nn.Module {
  readonly headDim: number;
  readonly q_proj: nn.Linear;
  readonly k_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly out_proj: nn.Linear;

  constructor(
    readonly width: number,
    readonly heads: number,
  ) {
    super();
    if (width % heads !== 0) throw new RangeError(`CLIP attention: width ${width} is not divisible by ${heads} heads`);
    this.headDim = width / heads;
    this.q_proj = this.registerModule('q_proj', new nn.Linear(width, width));
    this.k_proj = this.registerModule('k_proj', new nn.Linear(width, width));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(width, width));
    this.out_proj = this.registerModule('out_proj', new nn.Linear(width, width));
  }

  /** q, k, v packed for libtorch's fused inference kernel; refreshed when a source changes. */
  #packed: { weight: Tensor; bias: Tensor; versions: number[] } | null = null;

  /** x [B, L, W]; mask additive [L, L] or null. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    // Without gradients and without a mask (the vision tower, frozen or in evaluation), use the
    // kernel PyTorch's nn.MultiheadAttention uses there: one packed QKV GEMM and fused attention.
    // Measured at 2 threads (ViT-L/14@336 attention, batch 1): 57 ms -> 40 ms.
    // As nn.MultiheadAttention, not under autocast: the fused kernel takes one dtype for all.
    if (mask === null && !isGradEnabled() && x.ndim === 3 && !amp.isAutocastEnabled('cpu') && !amp.isAutocastEnabled('cuda')) {
      const { weight, bias } = this.packedQkv();
      const [out] = aten.nativeMultiHeadAttention(x, x, x, this.width, this.heads, weight, bias, this.out_proj.weight, this.out_proj.bias!, {
        needWeights: false,
      });
      return out!;
    }
    return tidy(() => {
      const [B, L] = x.shape;
      const split = (t: Tensor) => t.reshape(B, L, this.heads, this.headDim).transpose(1, 2);
      const out = F.scaledDotProductAttention(split(this.q_proj.forward(x)), split(this.k_proj.forward(x)), split(this.v_proj.forward(x)), {
        attnMask: mask,
      });
      return this.out_proj.forward(out.transpose(1, 2).reshape(B, L, this.width));
    });
  }

  /**
   * The packed weights, kept as non-persistent buffers (not in the state dict; moved and
   * disposed with the module). Tensor versions (bumped by every in-place write: loading,
   * optimiser steps) and dtype tell when they are stale.
   */
  private packedQkv(): { weight: Tensor; bias: Tensor } {
    const sources = [this.q_proj.weight, this.k_proj.weight, this.v_proj.weight, this.q_proj.bias!, this.k_proj.bias!, this.v_proj.bias!];
    const versions = sources.map((t) => aten.version(t));
    const p = this.#packed;
    const fresh = p !== null && p.weight.dtype === sources[0].dtype && p.weight.device === sources[0].device && versions.every((v, i) => v === p.versions[i]);
    if (fresh) return p;
    noGrad(() => {
      if (p === null) {
        this.#packed = {
          weight: this.registerBuffer('packed_qkv_weight', F.cat(sources.slice(0, 3), 0), false),
          bias: this.registerBuffer('packed_qkv_bias', F.cat(sources.slice(3), 0), false),
          versions,
        };
      } else {
        tidy(() => {
          p.weight.setData(F.cat(sources.slice(0, 3), 0));
          p.bias.setData(F.cat(sources.slice(3), 0));
        });
        p.versions = versions;
      }
    });
    return this.#packed!;
  }
}

export class ClipMlp extends nn.Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;

  constructor(
    width: number,
    hidden: number,
    readonly activation: Activation,
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(width, hidden));
    this.fc2 = this.registerModule('fc2', new nn.Linear(hidden, width));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.fc1.forward(x);
      return this.fc2.forward(this.activation === 'quick_gelu' ? F.quickGelu(h) : F.gelu(h));
    });
  }
}

export class ClipEncoderLayer extends nn.Module {
  readonly self_attn: ClipAttention;
  readonly layer_norm1: nn.LayerNorm;
  readonly mlp: ClipMlp;
  readonly layer_norm2: nn.LayerNorm;

  constructor(width: number, heads: number, hidden: number, activation: Activation, eps: number) {
    super();
    this.self_attn = this.registerModule('self_attn', new ClipAttention(width, heads));
    this.layer_norm1 = this.registerModule('layer_norm1', new nn.LayerNorm(width, eps));
    this.mlp = this.registerModule('mlp', new ClipMlp(width, hidden, activation));
    this.layer_norm2 = this.registerModule('layer_norm2', new nn.LayerNorm(width, eps));
  }

  forward(x: Tensor, mask: Tensor | null): Tensor {
    return tidy(() => {
      const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x), mask));
      return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
    });
  }
}

export interface EncoderSpec {
  width: number;
  layers: number;
  heads: number;
  hidden: number;
  activation: Activation;
  eps: number;
}

/** The encoder sizes a CLIP tower config describes (both towers use the same fields). */
export function encoderSpec(c: { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size: number; hidden_act: Activation; layer_norm_eps: number }): EncoderSpec {
  return {
    width: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    hidden: c.intermediate_size,
    activation: c.hidden_act,
    eps: c.layer_norm_eps,
  };
}

export class ClipEncoder extends nn.Module {
  readonly layers: nn.ModuleList<ClipEncoderLayer>;

  constructor(spec: EncoderSpec) {
    super();
    this.layers = this.registerModule(
      'layers',
      new nn.ModuleList(Array.from({ length: spec.layers }, () => new ClipEncoderLayer(spec.width, spec.heads, spec.hidden, spec.activation, spec.eps))),
    );
  }

  /**
   * Runs every block. `taps` lists 1-based block numbers whose outputs are returned too
   * (block k's output is the input of block k + 1).
   */
  forward(x: Tensor, mask: Tensor | null, taps: readonly number[] = []): { last: Tensor; taps: Tensor[] } {
    for (const t of taps) {
      if (!Number.isInteger(t) || t < 1 || t > this.layers.length) {
        throw new RangeError(`CLIP tap at block ${t}: blocks are numbered 1..${this.layers.length}`);
      }
    }
    return tidy(() => {
      const tapped = new Map<number, Tensor>();
      let h = x;
      let k = 0;
      for (const layer of this.layers) {
        const next = layer.forward(h, mask);
        // A block's input is dead once the next block has run, unless it is tapped or the
        // caller's: freeing it now keeps one block's activations alive, not all of them (ViT-L
        // batch 8: 24 x 19 MB). Under autograd the graph still holds what backward needs.
        if (h !== x && !taps.includes(k)) h.dispose();
        h = next;
        k += 1;
        if (taps.includes(k)) tapped.set(k, h);
      }
      return { last: h, taps: taps.map((t) => tapped.get(t)!) };
    });
  }
}
