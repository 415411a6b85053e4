// A run folder that travels: the files a run needs besides its weights are copied into it
// (the tokenizer's vocabulary, a pretrained CLIP's config and preprocessor config, the
// auxiliary prompts file), and paths inside the folder are stored relative to it. Copy the
// folder to another machine and predict, eval and serve find everything but a frozen
// pretrained CLIP's weights (gigabytes), which --clip points at.
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { makeDir } from '../fs/make_dir.js';

/** The files of a tokenizer, in the forms ClipTokenizer.fromPath reads. */
const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt'];
const CLIP_CONFIG_FILES = ['config.json', 'preprocessor_config.json'];

/** A path as a run record stores it: relative when inside the run folder. */
export function storedPath(runDir: string, path: string): string {
  const rel = relative(resolve(runDir), resolve(path));
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
}

/** A path from a run record, resolved against the run folder. */
export function runPath(runDir: string, stored: string): string {
  return isAbsolute(stored) ? stored : join(runDir, stored);
}

function copyInto(dir: string, file: string): void {
  makeDir(dir);
  copyFileSync(file, join(dir, basename(file)));
}

/** Copies the tokenizer (a file, or the tokenizer files of a folder) into <run>/tokenizer/; returns the path to store. */
export function bundleTokenizer(runDir: string, source: string): string {
  const dir = join(runDir, 'tokenizer');
  if (!statSync(source).isDirectory()) {
    copyInto(dir, source);
    return join('tokenizer', basename(source));
  }
  const found = TOKENIZER_FILES.filter((f) => existsSync(join(source, f)));
  if (found.length === 0) throw new Error(`no tokenizer files in ${source} (expected vocab.json + merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz)`);
  for (const f of found) copyInto(dir, join(source, f));
  return 'tokenizer';
}

/** Copies a pretrained CLIP's config files (not its weights) into <run>/clip/. */
export function bundleClipConfig(runDir: string, clipSource: string): void {
  const folder = statSync(clipSource).isDirectory() ? clipSource : resolve(clipSource, '..');
  for (const f of CLIP_CONFIG_FILES) if (existsSync(join(folder, f))) copyInto(join(runDir, 'clip'), join(folder, f));
}

/** The run's own copy of its auxiliary prompts file. */
export function bundledAuxFile(runDir: string): string {
  return join(runDir, 'aux_prompts.jsonl');
}

/** Copies the auxiliary prompts file a run trained with into the run. */
export function bundleAuxFile(runDir: string, file: string): void {
  copyFileSync(file, bundledAuxFile(runDir));
}
