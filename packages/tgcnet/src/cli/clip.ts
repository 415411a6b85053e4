// `tgcnet clip embed` and `tgcnet clip init`: check our CLIP against yours; make a random one.
import { F, noGrad, tensor, tidy } from '@tgcnet/torch';
import { loadClip } from '../clip/checkpoint.js';
import { writeRandomClip } from '../clip/init.js';
import { loadImageForClip } from '../clip/preprocess.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { defaultBpePath } from '../paths.js';

export interface EmbedOptions {
  clip: string;
  image?: string;
  text?: string;
  json?: boolean;
  tokenizer?: string;
}

export async function clipEmbed(opts: EmbedOptions): Promise<void> {
  if (!opts.image && !opts.text) throw new Error('clip embed: give --image, --text, or both');
  const loaded = loadClip(opts.clip);
  try {
    let tokenizer = loaded.tokenizer;
    if (opts.text !== undefined && tokenizer === null) {
      const bpe = opts.tokenizer ?? defaultBpePath();
      if (!bpe) throw new Error(`${opts.clip} has no tokenizer files (vocab.json + merges.txt or tokenizer.json): pass --tokenizer <path>`);
      tokenizer = ClipTokenizer.fromPath(bpe);
    }
    const size = loaded.config.vision_config.image_size;
    const pixels = opts.image ? await loadImageForClip(opts.image, loaded.preprocessor, size) : null;
    const result = noGrad(() =>
      tidy(() => {
        const out: { image_embedding?: number[]; text_embedding?: number[]; cosine?: number } = {};
        const img = pixels ? F.normalize(loaded.model.encodeImage(pixels).pooled, -1) : null;
        let txt = null;
        if (opts.text !== undefined && tokenizer) {
          const enc = tokenizer.encode(opts.text, { contextLength: loaded.config.text_config.max_position_embeddings });
          const ids = tensor(enc.ids, { dtype: 'int64' }).reshape(1, -1);
          txt = F.normalize(loaded.model.encodeText(ids, [enc.eotIndex]).pooled, -1);
        }
        if (img) out.image_embedding = img.toNumbers();
        if (txt) out.text_embedding = txt.toNumbers();
        if (img && txt) out.cosine = img.mul(txt).sum().item();
        return out;
      }),
    );
    pixels?.dispose();
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      if (result.image_embedding) process.stdout.write(`image embedding: ${result.image_embedding.length} dims\n`);
      if (result.text_embedding) process.stdout.write(`text embedding: ${result.text_embedding.length} dims\n`);
      if (result.cosine !== undefined) process.stdout.write(`cosine similarity: ${result.cosine.toFixed(6)}\n`);
    }
  } finally {
    loaded.model.dispose();
  }
}

export function clipInit(opts: { preset: string; out: string; seed: number; bpe?: string; openai?: boolean }): void {
  const bpe = opts.bpe ?? defaultBpePath();
  if (!bpe) {
    process.stderr.write('tgcnet: no CLIP BPE vocabulary found (--bpe <bpe_simple_vocab_16e6.txt.gz>); writing weights without tokenizer files\n');
  }
  const { files } = writeRandomClip(opts.out, { preset: opts.preset, seed: opts.seed, bpePath: bpe, openAiCopy: opts.openai });
  process.stdout.write(`wrote a random CLIP (${opts.preset}, seed ${opts.seed}) to ${opts.out}: ${files.join(', ')}\n`);
}
