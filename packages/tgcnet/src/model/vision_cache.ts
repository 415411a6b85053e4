// The frozen CLIP vision tower's output, kept on disk per image: with a pretrained tower that
// does not train and pixels that do not move between epochs, the ViT computes the same taps
// and dense tokens every epoch, so epoch 2 on reads them instead (issue 14).
//
// Keys. A folder per tower: sha256 of the tower's weights, the taps, the input side, the
// precision and the device kind (a CUDA or bf16 forward computes other numbers). A file per
// image: sha256 of the exact float32 pixels the tower would see (CLIP-normalised, after any
// flip), so a new preprocessor, size or augmentation is a different key, never a stale hit.
// Files hold the computed dtype and are checked against the tower key when read; an unreadable
// or foreign file is a miss (recomputed and rewritten), never a crash.
//
// A cached epoch uses what epoch 1 computed, in epoch 1's batches. For ViT-B/16 at 336 an image
// gets the same bits in any batch here (one and two threads), so the cache changes nothing; the
// tiny test tower does not (OpenBLAS picks other kernels for other matrix heights: 5e-7), so
// elsewhere a cached run may differ from an uncached one in the last bits.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { F, SafetensorsFile, elementSize, noGrad, saveSafetensors, tidy, type Tensor } from '@tgcnet/torch';
import { writeFileAtomic } from '../fs/atomic.js';
import type { Execution } from './execution.js';
import type { TgcNet, VisionFeatures } from './tgcnet.js';

/** Bump when the file layout changes: old folders are then simply not found. */
const LAYOUT_VERSION = 1;
/** Writing stops while less than this is free on the cache's disk. */
const DISK_RESERVE_BYTES = 2 ** 30;

export interface FeatureCacheStats {
  /** Images whose features were read from the cache. */
  hits: number;
  /** Images not in the cache (computed and written; a cached image beside one is computed too, and not counted). */
  misses: number;
  /** Batches the vision tower ran for (0 in an epoch served from the cache). */
  towerBatches: number;
  /** Files written, and their bytes. */
  written: number;
  bytesWritten: number;
}

const emptyStats = (): FeatureCacheStats => ({ hits: 0, misses: 0, towerBatches: 0, written: 0, bytesWritten: 0 });

/** Why a run cannot use the cache, or null when it can. */
export function featureCacheUnusable(model: TgcNet, augment: boolean | 'flip' | undefined): string | null {
  if (!model.clip_vision) return `encoder ${model.config.encoder} has no CLIP vision tower`;
  if (model.visionTrainable) return 'the CLIP vision tower trains (no pretrained --clip, clipTrainable, or encoder vit-finetune), so its features change every step';
  if (augment !== false && augment !== 'flip') return 'augmentation moves pixels on every step (train with --no-augment to cache)';
  return null;
}

function sha256Hex(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export class VisionFeatureCache {
  /** The folder of this tower's files: <root>/<tower key, 16 hex>. */
  readonly dir: string;
  readonly towerKey: string;
  #stats = emptyStats();
  #writing = true;
  #freeBytes: number;
  #warned = new Set<string>();

  private constructor(
    root: string,
    towerKey: string,
    description: Record<string, unknown>,
    private readonly taps: number,
    private readonly warn: (message: string) => void,
  ) {
    this.towerKey = towerKey;
    this.dir = join(root, towerKey.slice(0, 16));
    mkdirSync(this.dir, { recursive: true });
    const about = join(this.dir, 'tower.json');
    if (!existsSync(about)) writeFileAtomic(about, `${JSON.stringify({ towerKey, ...description }, null, 2)}\n`);
    this.#freeBytes = freeBytes(this.dir);
  }

  /**
   * The cache of `model`'s vision tower under `root` (created when missing). Hashes the
   * tower's weights once (about a second per 100M parameters).
   */
  static open(root: string, model: TgcNet, execution: Execution, warn: (message: string) => void): VisionFeatureCache {
    const vision = model.clip_vision;
    if (!vision) throw new Error('VisionFeatureCache: the model has no CLIP vision tower');
    const c = model.config;
    const description = {
      layout: LAYOUT_VERSION,
      taps: c.vitTaps,
      vitInput: c.vitInput,
      precision: execution.precision,
      device: execution.device.startsWith('cuda') ? 'cuda' : 'cpu',
      parameters: vision.parameters().reduce((n, p) => n + p.numel(), 0),
    };
    const parts: (string | Buffer)[] = [JSON.stringify(description)];
    const state = [...vision.stateDict().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, t] of state) {
      parts.push(`${name}:${t.dtype}:${t.shape.join('x')};`);
      parts.push(t.toBuffer());
    }
    return new VisionFeatureCache(root, sha256Hex(parts), description, c.vitTaps.length, warn);
  }

  /** Counts since the last call (per epoch in training). */
  takeStats(): FeatureCacheStats {
    const s = this.#stats;
    this.#stats = emptyStats();
    return s;
  }

  /**
   * The frozen tower's features for `vitPixels` [B, 3, S, S]: read when every image is in the
   * cache, else computed for the batch (under the caller's autocast) and the missing images
   * written. The tensors belong to the caller's scope.
   */
  features(model: TgcNet, vitPixels: Tensor): VisionFeatures {
    const B = vitPixels.shape[0];
    const keys: string[] = [];
    for (let i = 0; i < B; i++) {
      const sample = vitPixels.select(0, i);
      keys.push(sha256Hex([`${sample.dtype}:${sample.shape.join('x')};`, sample.toBuffer()]));
      sample.dispose();
    }
    // Read until the first miss: one missing image makes the tower run for the whole batch.
    const read: Map<string, Tensor>[] = [];
    for (const key of keys) {
      const r = this.#read(key);
      if (r === null) break;
      read.push(r);
    }
    if (read.length === B) {
      this.#stats.hits += B;
      return tidy(() => {
        const device = vitPixels.device;
        const gather = (name: string) => F.stack(read.map((r) => r.get(name)!)).permute(0, 3, 1, 2).to(device);
        const out = { taps: Array.from({ length: this.taps }, (_, t) => gather(`tap${t}`)), dense: gather('dense') };
        for (const r of read) for (const t of r.values()) t.dispose();
        return out;
      });
    }
    for (const r of read) for (const t of r.values()) t.dispose();
    const computed = model.visionFeatures(vitPixels);
    this.#stats.towerBatches += 1;
    keys.forEach((key, i) => {
      // (A key twice in one batch is written once.)
      if (existsSync(this.#path(key))) return;
      this.#stats.misses += 1;
      this.#write(key, computed, i);
    });
    return computed;
  }

  #path(key: string): string {
    return join(this.dir, `${key.slice(0, 32)}.safetensors`);
  }

  /** One image's maps as [h, w, C] (channels last, as the tower's token order), or null on a miss. */
  #read(key: string): Map<string, Tensor> | null {
    const path = this.#path(key);
    if (!existsSync(path)) return null;
    let file: SafetensorsFile | null = null;
    const out = new Map<string, Tensor>();
    try {
      file = SafetensorsFile.open(path);
      if (file.metadata.tower !== this.towerKey || file.metadata.image !== key) throw new Error('written for another tower or image');
      for (const name of [...Array.from({ length: this.taps }, (_, t) => `tap${t}`), 'dense']) out.set(name, file.get(name));
      return out;
    } catch (err) {
      for (const t of out.values()) t.dispose();
      this.#warnOnce('read', `feature cache ${path}: ${(err as Error).message}; computing it again (the file is rewritten)`);
      // Removed, so the batch's write puts a good one in its place.
      rmSync(path, { force: true });
      return null;
    } finally {
      file?.close();
    }
  }

  #write(key: string, features: VisionFeatures, index: number): void {
    if (!this.#writing) return;
    try {
      noGrad(() =>
        tidy(() => {
          // [C, h, w] -> [h, w, C]: the tower's own token-major order, so a read batch has the
          // strides of a computed one (apart from the batch stride).
          const own = (t: Tensor) => t.select(0, index).permute(1, 2, 0).contiguous().to('cpu');
          const tensors: Record<string, Tensor> = { dense: own(features.dense) };
          features.taps.forEach((t, i) => {
            tensors[`tap${i}`] = own(t);
          });
          const bytes = Object.values(tensors).reduce((n, t) => n + t.numel() * elementSize(t.dtype), 0);
          if (this.#freeBytes - bytes < DISK_RESERVE_BYTES) {
            this.#writing = false;
            this.warn(`feature cache ${this.dir}: less than ${DISK_RESERVE_BYTES / 2 ** 30} GiB would be left on its disk: no more features are written (the tower runs for the rest); free space or pass --feature-cache <a folder on another disk>`);
            return;
          }
          saveSafetensors(this.#path(key), tensors, { tower: this.towerKey, image: key });
          this.#freeBytes -= bytes;
          this.#stats.written += 1;
          this.#stats.bytesWritten += bytes;
        }),
      );
    } catch (err) {
      this.#writing = false;
      this.warn(`feature cache ${this.dir}: cannot write (${(err as Error).message}): training goes on without caching`);
    }
  }

  #warnOnce(kind: string, message: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.warn(message);
  }
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
