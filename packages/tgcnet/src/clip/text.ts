// CLIP's text tower: token + position embeddings, causal pre-LN blocks, ln_final, pooling
// at the end-of-text token, projection. Hugging Face names.
import { aten, full, nn, noGrad, tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipTextConfig } from './config.js';
import { ClipEncoder, encoderSpec } from './encoder.js';

export class ClipTextEmbeddings extends nn.Module {
  readonly token_embedding: nn.Embedding;
  readonly position_embedding: nn.Embedding;

  constructor(readonly config: ClipTextConfig) {
    super();
    this.token_embedding = this.registerModule('token_embedding', new nn.Embedding(config.vocab_size, config.hidden_size));
    nn.init.normal_(this.token_embedding.weight, 0, 0.02);
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(config.max_position_embeddings, config.hidden_size));
    nn.init.normal_(this.position_embedding.weight, 0, 0.01);
  }

  forward(ids: Tensor): Tensor {
    return tidy(() => {
      const L = ids.shape[1];
      return this.token_embedding.forward(ids).add(this.position_embedding.weight.narrow(0, 0, L));
    });
  }
}

export class ClipTextTransformer extends nn.Module {
  readonly embeddings: ClipTextEmbeddings;
  readonly encoder: ClipEncoder;
  readonly final_layer_norm: nn.LayerNorm;

  constructor(readonly config: ClipTextConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new ClipTextEmbeddings(config));
    this.encoder = this.registerModule(
      'encoder',
      new ClipEncoder(encoderSpec(config)),
    );
    this.final_layer_norm = this.registerModule('final_layer_norm', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
  }
}

export interface TextOutput {
  /** [B, E]: ln_final at the end-of-text token, projected (not normalised). */
  pooled: Tensor;
  /** [B, L, W]: every token after ln_final (what DATE attends over). */
  tokens: Tensor;
  /** [B, L] bool: true for real tokens (start .. end of text), false for padding. */
  mask: Tensor;
}

/** The text tower with its projection: keys as Hugging Face's CLIPTextModelWithProjection. */
export class ClipTextTower extends nn.Module {
  readonly text_model: ClipTextTransformer;
  readonly text_projection: nn.Linear;

  constructor(
    readonly config: ClipTextConfig,
    readonly projectionDim: number,
  ) {
    super();
    this.text_model = this.registerModule('text_model', new ClipTextTransformer(config));
    this.text_projection = this.registerModule('text_projection', new nn.Linear(config.hidden_size, projectionDim, { bias: false }));
  }

  /** ids [B, L] int64; eotIndex[b] is where sequence b's end-of-text token sits. */
  forward(ids: Tensor, eotIndex: readonly number[]): TextOutput {
    const [B, L] = ids.shape;
    if (ids.ndim !== 2 || eotIndex.length !== B || L > this.config.max_position_embeddings) {
      throw new RangeError(
        `CLIP text: expected ids [B, L <= ${this.config.max_position_embeddings}] and one end index per row, ` +
          `got ids [${ids.shape.join(', ')}] and ${eotIndex.length} indices`,
      );
    }
    return tidy(() => {
      const tm = this.text_model;
      const causal = aten.triu(full([L, L], Number.NEGATIVE_INFINITY, { device: ids.device }), { diagonal: 1 });
      const { last } = tm.encoder.forward(tm.embeddings.forward(ids), causal);
      const tokens = tm.final_layer_norm.forward(last);
      const rows = tensor(Array.from({ length: B }, (_, b) => b), { dtype: 'int64', device: ids.device });
      const cols = tensor([...eotIndex], { dtype: 'int64', device: ids.device });
      const pooled = this.text_projection.forward(tokens.index([rows, cols]));
      const positions = tensor(Array.from({ length: L }, (_, i) => i), { dtype: 'int64', device: ids.device }).reshape(1, L);
      const mask = positions.le(cols.reshape(B, 1));
      return { pooled, tokens, mask };
    });
  }

  encodeFrozen(ids: Tensor, eotIndex: readonly number[]): TextOutput {
    return noGrad(() => this.forward(ids, eotIndex));
  }
}
