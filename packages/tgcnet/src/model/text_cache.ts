// Frozen CLIP text features, computed once per unique prompt per run. The text tower is
// the same for every epoch, so a prompt seen before costs a lookup, not a forward pass.
import { type Device, F, keep, noGrad, tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipTextTower } from '../clip/text.js';
import type { TextFeatures } from './date.js';

/** Token ids of a batch of prompts; keys (the prompt strings) enable caching. */
export interface TextBatch {
  ids: Tensor;
  eot: number[];
  keys?: string[];
}

interface Entry {
  pooled: Tensor;
  tokens: Tensor;
  mask: Tensor;
}

export class TextFeatureCache {
  readonly #entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries = 50_000) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Features for every row; rows whose key is cached skip the tower. */
  features(tower: ClipTextTower, batch: TextBatch): TextFeatures {
    if (batch.keys === undefined) {
      // Without prompt strings there is nothing to key on: run the tower on the whole batch.
      return noGrad(() => {
        const out = tower.forward(batch.ids, batch.eot);
        return { pooled: out.pooled, tokens: out.tokens, mask: out.mask };
      });
    }
    const keys = batch.keys;
    return tidy(() => {
      const missing = [...new Set(keys.filter((k) => !this.#entries.has(k)))];
      this.hits += keys.length - keys.filter((k) => missing.includes(k)).length;
      if (missing.length > 0) {
        if (this.#entries.size + missing.length > this.maxEntries) this.clear();
        const rows = missing.map((k) => keys.indexOf(k));
        const ids = F.indexSelect(batch.ids, 0, tensorOf(rows, batch.ids.device));
        const out = noGrad(() => tower.forward(ids, rows.map((r) => batch.eot[r])));
        missing.forEach((k, i) => {
          // Kept at the prompt's own length: batches differ in length (tokenizeBatch trims to
          // the longest prompt), and the positions after the end of text are padding.
          const length = batch.eot[rows[i]] + 1;
          this.#entries.set(k, {
            pooled: keep(out.pooled.select(0, i).clone()),
            tokens: keep(out.tokens.select(0, i).narrow(0, 0, length).clone()),
            mask: keep(out.mask.select(0, i).narrow(0, 0, length).clone()),
          });
        });
        this.misses += missing.length;
      }
      const L = batch.ids.shape[1];
      const entries = keys.map((k) => this.#entries.get(k)!);
      const pad = (t: Tensor) => (t.shape[0] === L ? t : F.pad(t, t.ndim === 2 ? [0, 0, 0, L - t.shape[0]] : [0, L - t.shape[0]]));
      return {
        pooled: F.stack(entries.map((e) => e.pooled)),
        tokens: F.stack(entries.map((e) => pad(e.tokens))),
        mask: F.stack(entries.map((e) => pad(e.mask))),
      };
    });
  }

  clear(): void {
    for (const e of this.#entries.values()) {
      e.pooled.dispose();
      e.tokens.dispose();
      e.mask.dispose();
    }
    this.#entries.clear();
  }
}

function tensorOf(rows: number[], device: Device): Tensor {
  return tensor(rows, { dtype: 'int64', device });
}
