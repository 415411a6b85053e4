// Loading CLIP from what users already have: a Hugging Face folder (config.json,
// model.safetensors or shards, vocab.json + merges.txt or tokenizer.json,
// preprocessor_config.json), or a single .safetensors in either naming.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SafetensorsFile, dispose, tidy, type Tensor } from '@tgcnet/torch';
import { type ClipConfig, PreprocessorConfig, parseClipConfig } from './config.js';
import { ClipModel } from './model.js';
import { type Naming, detectNaming, isIgnorableKey, openAiToHuggingFace } from './naming.js';
import { ClipTextTower } from './text.js';
import { ClipTokenizer } from './tokenizer.js';
import { ClipVisionTower } from './vision.js';
import { readJsonFile } from '../fs/read_json.js';

export type Tower = 'both' | 'vision' | 'text';

export interface ClipFiles {
  weights: string[];
  config: string | null;
  preprocessor: string | null;
  tokenizerDir: string | null;
}

/** Finds the files of a checkpoint folder, or treats `path` as the weights file itself. */
export function resolveClipFiles(path: string): ClipFiles {
  if (!existsSync(path)) throw new Error(`CLIP checkpoint ${path} does not exist: pass a Hugging Face folder or a .safetensors file`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const maybe = (name: string) => (existsSync(join(dir, name)) ? join(dir, name) : null);
  let weights: string[];
  if (!isDir) {
    weights = [path];
  } else if (existsSync(join(dir, 'model.safetensors.index.json'))) {
    const index = readJsonFile(join(dir, 'model.safetensors.index.json'), 'sharded weights index') as { weight_map?: Record<string, string> };
    weights = [...new Set(Object.values(index.weight_map ?? {}))].map((f) => join(dir, f));
  } else if (existsSync(join(dir, 'model.safetensors'))) {
    weights = [join(dir, 'model.safetensors')];
  } else {
    weights = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f));
    if (weights.length !== 1) {
      const hasBin = readdirSync(dir).some((f) => f.endsWith('.bin') || f.endsWith('.pt'));
      throw new Error(
        `${dir}: expected model.safetensors (or one .safetensors file), found ${weights.length}` +
          (hasBin ? '. PyTorch .bin/.pt pickles are not read; convert them with safetensors first.' : ''),
      );
    }
  }
  const tokenizerDir =
    maybe('vocab.json') || maybe('tokenizer.json') || maybe('bpe_simple_vocab_16e6.txt.gz') || maybe('bpe_simple_vocab_16e6.txt') ? dir : null;
  return { weights, config: maybe('config.json'), preprocessor: maybe('preprocessor_config.json'), tokenizerDir };
}

function layerCount(shapes: Map<string, number[]>, prefix: string): number {
  let n = 0;
  for (const k of shapes.keys()) {
    if (k.startsWith(prefix)) n = Math.max(n, Number(k.slice(prefix.length).split('.')[0]) + 1);
  }
  return n;
}

function need(shapes: Map<string, number[]>, key: string, source: string): number[] {
  const s = shapes.get(key);
  if (s === undefined) throw new Error(`${source}: cannot infer the CLIP config without ${key} (and there is no config.json)`);
  return s;
}

/**
 * A config from tensor shapes alone, for files without config.json. Heads follow OpenAI's
 * rule (width / 64), the activation is QuickGELU: right for OpenAI's checkpoints; other
 * models need their config.json.
 */
export function inferClipConfig(shapes: Map<string, number[]>, naming: Naming, source: string): ClipConfig {
  const hf = naming === 'huggingface';
  const k = (hfKey: string, oaKey: string) => need(shapes, hf ? hfKey : oaKey, source);
  const [vw, channels, patch] = k('vision_model.embeddings.patch_embedding.weight', 'visual.conv1.weight');
  const [positions] = k('vision_model.embeddings.position_embedding.weight', 'visual.positional_embedding');
  const grid = Math.round(Math.sqrt(positions - 1));
  const [vocab, tw] = k('text_model.embeddings.token_embedding.weight', 'token_embedding.weight');
  const [context] = k('text_model.embeddings.position_embedding.weight', 'positional_embedding');
  const projection = hf ? k('visual_projection.weight', '')[0] : k('', 'visual.proj')[1];
  const vLayers = layerCount(shapes, hf ? 'vision_model.encoder.layers.' : 'visual.transformer.resblocks.');
  const tLayers = layerCount(shapes, hf ? 'text_model.encoder.layers.' : 'transformer.resblocks.');
  const vHidden = k('vision_model.encoder.layers.0.mlp.fc1.weight', 'visual.transformer.resblocks.0.mlp.c_fc.weight')[0];
  const tHidden = k('text_model.encoder.layers.0.mlp.fc1.weight', 'transformer.resblocks.0.mlp.c_fc.weight')[0];
  return parseClipConfig(
    {
      vision_config: {
        hidden_size: vw,
        intermediate_size: vHidden,
        num_hidden_layers: vLayers,
        num_attention_heads: Math.max(1, Math.floor(vw / 64)),
        image_size: grid * patch,
        patch_size: patch,
        num_channels: channels,
      },
      text_config: {
        vocab_size: vocab,
        hidden_size: tw,
        intermediate_size: tHidden,
        num_hidden_layers: tLayers,
        num_attention_heads: Math.max(1, Math.floor(tw / 64)),
        max_position_embeddings: context,
      },
      projection_dim: projection,
    },
    `${source} (config inferred from tensor shapes)`,
  );
}

export interface LoadedClip<M> {
  model: M;
  config: ClipConfig;
  naming: Naming;
  tokenizer: ClipTokenizer | null;
  preprocessor: PreprocessorConfig;
  files: ClipFiles;
}

function openAll(files: ClipFiles): { handles: SafetensorsFile[]; keyFile: Map<string, SafetensorsFile> } {
  const handles = files.weights.map((w) => SafetensorsFile.open(w));
  const keyFile = new Map<string, SafetensorsFile>();
  for (const h of handles) for (const key of h.keys()) keyFile.set(key, h);
  return { handles, keyFile };
}

const TOWER_PREFIXES: Record<Tower, string[]> = {
  both: ['vision_model.', 'visual_projection.', 'text_model.', 'text_projection.', 'logit_scale'],
  vision: ['vision_model.', 'visual_projection.'],
  text: ['text_model.', 'text_projection.'],
};

/** Whether a key (in the file's own naming) belongs to the tower being loaded. */
function towerOwns(tower: Tower, naming: Naming, key: string): boolean {
  if (tower === 'both') return true;
  if (naming === 'huggingface') return TOWER_PREFIXES[tower].some((p) => key.startsWith(p));
  const visual = key.startsWith('visual.');
  return tower === 'vision' ? visual : !visual && key !== 'logit_scale';
}

function buildModel(tower: Tower, config: ClipConfig): ClipModel | ClipVisionTower | ClipTextTower {
  if (tower === 'vision') return new ClipVisionTower(config.vision_config, config.projection_dim);
  if (tower === 'text') return new ClipTextTower(config.text_config, config.projection_dim);
  return new ClipModel(config);
}

function load(path: string, tower: Tower): LoadedClip<ClipModel | ClipVisionTower | ClipTextTower> {
  const files = resolveClipFiles(path);
  const { handles, keyFile } = openAll(files);
  try {
    const naming = detectNaming(keyFile.keys());
    if (naming === null) {
      throw new Error(
        `${files.weights.join(', ')}: no CLIP tensors found (expected vision_model.* / text_model.* keys, or OpenAI's visual.* / transformer.resblocks.*)`,
      );
    }
    const shapes = new Map<string, number[]>();
    for (const h of handles) for (const [k, info] of h.tensors) shapes.set(k, info.shape);
    const config = files.config
      ? parseClipConfig(readJsonFile(files.config, 'CLIP config'), files.config)
      : inferClipConfig(shapes, naming, files.weights[0]);
    const model = buildModel(tower, config);
    try {
      tidy(() => {
        const raw = new Map<string, Tensor>();
        for (const [key, file] of keyFile) {
          if (!isIgnorableKey(key) && towerOwns(tower, naming, key)) raw.set(key, file.get(key));
        }
        const converted = naming === 'openai' ? openAiToHuggingFace(raw) : { state: raw, unknown: [] as string[] };
        if (converted.unknown.length > 0) {
          throw new Error(`${files.weights[0]}: keys that are not part of a CLIP ViT checkpoint: ${converted.unknown.join(', ')}`);
        }
        const wanted = new Map([...converted.state].filter(([key]) => TOWER_PREFIXES[tower].some((p) => key.startsWith(p))));
        model.loadStateDict(wanted);
        dispose([...raw.values()]);
      });
    } catch (err) {
      model.dispose();
      throw new Error(`loading CLIP from ${path}: ${(err as Error).message}`);
    }
    const preprocessor = PreprocessorConfig.parse(files.preprocessor ? readJsonFile(files.preprocessor, 'image preprocessor config') : {});
    const tokenizer = files.tokenizerDir ? ClipTokenizer.fromPath(files.tokenizerDir) : null;
    model.eval();
    return { model, config, naming, tokenizer, preprocessor, files };
  } finally {
    for (const h of handles) h.close();
  }
}

/** Both towers (Hugging Face CLIPModel keys). */
export function loadClip(path: string): LoadedClip<ClipModel> {
  return load(path, 'both') as LoadedClip<ClipModel>;
}

/** Only the vision tower: text weights in the file are not read. */
export function loadClipVision(path: string): LoadedClip<ClipVisionTower> {
  return load(path, 'vision') as LoadedClip<ClipVisionTower>;
}

/** Only the text tower. */
export function loadClipText(path: string): LoadedClip<ClipTextTower> {
  return load(path, 'text') as LoadedClip<ClipTextTower>;
}
