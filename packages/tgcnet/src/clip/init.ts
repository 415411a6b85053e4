// Writes a complete random CLIP checkpoint folder in the Hugging Face layout, so tests,
// the demo and users without weights can run the whole pipeline.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, saveSafetensors } from '@tgcnet/torch';
import { type ClipConfig, clipPreset } from './config.js';
import { ClipModel } from './model.js';
import { huggingFaceToOpenAi } from './naming.js';
import { ClipTokenizer } from './tokenizer.js';
import { makeDir } from '../fs/make_dir.js';

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp-${process.pid}`, text);
  renameSync(`${path}.tmp-${process.pid}`, path);
}

export interface InitOptions {
  preset?: string;
  config?: ClipConfig;
  seed?: number;
  /** OpenAI's bpe_simple_vocab_16e6.txt.gz; vocab.json + merges.txt are derived from it. */
  bpePath: string | null;
  /** Also write the weights in OpenAI naming (openai_clip.safetensors), for interoperability tests. */
  openAiCopy?: boolean;
}

export function writeRandomClip(outDir: string, options: InitOptions): { config: ClipConfig; files: string[] } {
  const config = options.config ?? clipPreset(options.preset ?? 'tiny');
  makeDir(outDir);
  manualSeed(options.seed ?? 0);
  const model = new ClipModel(config);
  const files: string[] = [];
  try {
    const state = model.stateDict();
    saveSafetensors(join(outDir, 'model.safetensors'), state, { format: 'pt' });
    files.push('model.safetensors');
    if (options.openAiCopy) {
      const openai = huggingFaceToOpenAi(state);
      saveSafetensors(join(outDir, 'openai_clip.safetensors'), openai, { format: 'pt' });
      for (const t of openai.values()) t.dispose();
      files.push('openai_clip.safetensors');
    }
  } finally {
    model.dispose();
  }
  writeAtomic(join(outDir, 'config.json'), JSON.stringify({ architectures: ['CLIPModel'], model_type: 'clip', ...config }, null, 2));
  const side = config.vision_config.image_size;
  writeAtomic(
    join(outDir, 'preprocessor_config.json'),
    JSON.stringify(
      {
        image_processor_type: 'CLIPImageProcessor',
        do_resize: true,
        size: { shortest_edge: side },
        do_center_crop: true,
        crop_size: { height: side, width: side },
        do_normalize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_std: [0.26862954, 0.26130258, 0.27577711],
      },
      null,
      2,
    ),
  );
  files.push('config.json', 'preprocessor_config.json');
  if (options.bpePath) {
    const { vocabJson, mergesTxt } = ClipTokenizer.fromOpenAiBpe(options.bpePath).toVocabMerges();
    writeAtomic(join(outDir, 'vocab.json'), vocabJson);
    writeAtomic(join(outDir, 'merges.txt'), mergesTxt);
    files.push('vocab.json', 'merges.txt');
  }
  return { config, files };
}
