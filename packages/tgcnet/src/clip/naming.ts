// The two checkpoint namings of CLIP. Hugging Face's (vision_model.encoder.layers.N...)
// is our modules' own; OpenAI's / open_clip's (visual.transformer.resblocks.N...) is
// converted by the named rules below, in either direction.
import { F, tidy, type Tensor } from '@tgcnet/torch';

export type Naming = 'huggingface' | 'openai';

/** Which naming a set of keys uses, or null if neither. */
export function detectNaming(keys: Iterable<string>): Naming | null {
  for (const k of keys) {
    if (k.startsWith('vision_model.') || k.startsWith('text_model.')) return 'huggingface';
    if (k.startsWith('visual.') || k.startsWith('transformer.resblocks.') || k === 'token_embedding.weight') return 'openai';
  }
  return null;
}

/** Keys neither naming needs: buffers some exporters save. */
export function isIgnorableKey(key: string): boolean {
  return key.endsWith('.position_ids') || key === 'attn_mask' || key.endsWith('.attn_mask') || key === 'input_resolution' || key === 'context_length' || key === 'vocab_size';
}

// Renames inside a residual block: OpenAI -> Hugging Face.
const BLOCK_RENAMES: [string, string][] = [
  ['attn.out_proj.', 'self_attn.out_proj.'],
  ['ln_1.', 'layer_norm1.'],
  ['ln_2.', 'layer_norm2.'],
  ['mlp.c_fc.', 'mlp.fc1.'],
  ['mlp.c_proj.', 'mlp.fc2.'],
];

// Whole-key renames: OpenAI -> Hugging Face.
const KEY_RENAMES: [string, string][] = [
  ['visual.class_embedding', 'vision_model.embeddings.class_embedding'],
  ['visual.conv1.weight', 'vision_model.embeddings.patch_embedding.weight'],
  ['visual.positional_embedding', 'vision_model.embeddings.position_embedding.weight'],
  ['visual.ln_pre.weight', 'vision_model.pre_layrnorm.weight'],
  ['visual.ln_pre.bias', 'vision_model.pre_layrnorm.bias'],
  ['visual.ln_post.weight', 'vision_model.post_layernorm.weight'],
  ['visual.ln_post.bias', 'vision_model.post_layernorm.bias'],
  ['token_embedding.weight', 'text_model.embeddings.token_embedding.weight'],
  ['positional_embedding', 'text_model.embeddings.position_embedding.weight'],
  ['ln_final.weight', 'text_model.final_layer_norm.weight'],
  ['ln_final.bias', 'text_model.final_layer_norm.bias'],
  ['logit_scale', 'logit_scale'],
];

// Projections: OpenAI stores [width, embed] used as x @ proj; a Linear weight is its transpose.
const PROJECTIONS: [string, string][] = [
  ['visual.proj', 'visual_projection.weight'],
  ['text_projection', 'text_projection.weight'],
];

// Block prefixes: OpenAI -> Hugging Face.
const BLOCK_PREFIXES: [string, string][] = [
  ['visual.transformer.resblocks.', 'vision_model.encoder.layers.'],
  ['transformer.resblocks.', 'text_model.encoder.layers.'],
];

export class NamingError extends Error {}

/**
 * OpenAI/open_clip state dict -> Hugging Face keys. Fused attention in_proj tensors are
 * split into q/k/v; projections are transposed. New tensors belong to the caller's scope;
 * renamed ones are the inputs themselves. Unknown keys are returned in `unknown`.
 */
export function openAiToHuggingFace(state: Map<string, Tensor>): { state: Map<string, Tensor>; unknown: string[] } {
  const out = new Map<string, Tensor>();
  const unknown: string[] = [];
  const renames = new Map(KEY_RENAMES);
  const projections = new Map(PROJECTIONS);
  for (const [key, t] of state) {
    if (isIgnorableKey(key)) continue;
    const renamed = renames.get(key);
    if (renamed !== undefined) {
      out.set(renamed, t);
      continue;
    }
    const proj = projections.get(key);
    if (proj !== undefined) {
      out.set(proj, t.t().contiguous());
      continue;
    }
    const prefix = BLOCK_PREFIXES.find(([from]) => key.startsWith(from));
    if (prefix === undefined) {
      unknown.push(key);
      continue;
    }
    const rest = key.slice(prefix[0].length);
    const [index, ...tail] = rest.split('.');
    const inner = tail.join('.');
    const base = `${prefix[1]}${index}.`;
    if (inner === 'attn.in_proj_weight' || inner === 'attn.in_proj_bias') {
      const kind = inner.endsWith('weight') ? 'weight' : 'bias';
      const [q, k, v] = t.chunk(3, 0).map((c) => c.contiguous());
      out.set(`${base}self_attn.q_proj.${kind}`, q);
      out.set(`${base}self_attn.k_proj.${kind}`, k);
      out.set(`${base}self_attn.v_proj.${kind}`, v);
      continue;
    }
    const rename = BLOCK_RENAMES.find(([from]) => inner.startsWith(from));
    if (rename === undefined) {
      unknown.push(key);
      continue;
    }
    out.set(`${base}${rename[1]}${inner.slice(rename[0].length)}`, t);
  }
  return { state: out, unknown };
}

/** Hugging Face keys -> OpenAI naming (q/k/v fused into in_proj, projections transposed). */
export function huggingFaceToOpenAi(state: Map<string, Tensor>): Map<string, Tensor> {
  return tidy(() => {
    const out = new Map<string, Tensor>();
    const renames = new Map(KEY_RENAMES.map(([a, b]) => [b, a]));
    const projections = new Map(PROJECTIONS.map(([a, b]) => [b, a]));
    const fused = new Map<string, Partial<Record<'q' | 'k' | 'v', Tensor>>>();
    for (const [key, t] of state) {
      if (isIgnorableKey(key)) continue;
      const renamed = renames.get(key);
      if (renamed !== undefined) {
        out.set(renamed, t.clone());
        continue;
      }
      const proj = projections.get(key);
      if (proj !== undefined) {
        out.set(proj, t.t().contiguous());
        continue;
      }
      const prefix = BLOCK_PREFIXES.find(([, to]) => key.startsWith(to));
      if (prefix === undefined) throw new NamingError(`no OpenAI name for Hugging Face key ${key}`);
      const [index, ...tail] = key.slice(prefix[1].length).split('.');
      const inner = tail.join('.');
      const base = `${prefix[0]}${index}.`;
      const qkv = /^self_attn\.([qkv])_proj\.(weight|bias)$/.exec(inner);
      if (qkv) {
        const slot = `${base}attn.in_proj_${qkv[2]}`;
        const parts = fused.get(slot) ?? {};
        parts[qkv[1] as 'q' | 'k' | 'v'] = t;
        fused.set(slot, parts);
        continue;
      }
      const rename = BLOCK_RENAMES.find(([, to]) => inner.startsWith(to));
      if (rename === undefined) throw new NamingError(`no OpenAI name for Hugging Face key ${key}`);
      out.set(`${base}${rename[0]}${inner.slice(rename[1].length)}`, t.clone());
    }
    for (const [slot, parts] of fused) {
      if (!parts.q || !parts.k || !parts.v) throw new NamingError(`${slot}: q, k and v projections must all be present`);
      out.set(slot, F.cat([parts.q, parts.k, parts.v], 0));
    }
    return out;
  });
}
