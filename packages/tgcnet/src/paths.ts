// Where things are: the repository root and ../shared beside it (data, CLIP vocabulary).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (packages/tgcnet/dist/.. /../..). */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** ../shared beside the repository, or $TGCNET_SHARED; null when neither exists. */
export function sharedDir(): string | null {
  const candidates = [process.env.TGCNET_SHARED, join(repoRoot(), '..', 'shared')].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** OpenAI's CLIP BPE merges: $TGCNET_CLIP_BPE, else ../shared/clip/bpe_simple_vocab_16e6.txt.gz. */
export function defaultBpePath(): string | null {
  if (process.env.TGCNET_CLIP_BPE) return process.env.TGCNET_CLIP_BPE;
  const shared = sharedDir();
  const p = shared ? join(shared, 'clip', 'bpe_simple_vocab_16e6.txt.gz') : null;
  return p && existsSync(p) ? p : null;
}
