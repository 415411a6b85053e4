// Batches of decoded pixels, prepared ahead of the model. Decoding and resizing run in
// sharp's native threads while the previous step trains; JavaScript only hands out
// indices and copies bytes. Order is a seeded permutation per epoch, so a resumed run
// sees the same batches.
import sharp from 'sharp';
import type { DecodedCache } from './decoded_cache.js';
import { loadImage, loadMask } from './images.js';
import { mulberry32 } from '../random.js';
import type { CaseRecord, GreyImage } from './types.js';

export interface LoaderOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Side of the CNN input (and of the training masks). */
  cnnSize: number;
  /** Side of the ViT input, or null when the model has no ViT. */
  vitSize: number | null;
  /** Batches decoded ahead of the one being used. */
  prefetch?: number;
  /** Keep the image and mask at their original size too (evaluation, reports). */
  keepOriginal?: boolean;
  dropLast?: boolean;
  /** Data-parallel training: load only this rank's contiguous slice of each batch (the batch stays the global one). */
  shard?: { rank: number; worldSize: number };
  /** Keep decoded cases in memory across epochs (and loaders sharing it); null or absent: decode every time. */
  cache?: DecodedCache | null;
}

export interface LoadedCase {
  record: CaseRecord;
  /** [cnnSize^2] grey bytes. */
  cnn: Uint8Array;
  /** [vitSize^2] grey bytes, or null. */
  vit: Uint8Array | null;
  /** [cnnSize^2] 0/1, or null for unlabelled cases. */
  mask: Uint8Array | null;
  original: { width: number; height: number; spacing: [number, number] | null; image: Uint8Array | null; mask: Uint8Array | null };
}

export interface LoadedBatch {
  index: number;
  cases: LoadedCase[];
  /** Where this rank's cases start in the global batch (0 without a shard). */
  offset: number;
}

export async function resizeGrey(img: GreyImage, side: number, kernel: 'cubic' | 'nearest'): Promise<Uint8Array> {
  if (img.width === side && img.height === side) return img.data;
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(side, side, { fit: 'fill', kernel })
    // sharp widens one-channel raw input to sRGB on output; keep one channel.
    .extractChannel(0)
    .raw()
    .toBuffer();
  if (out.length !== side * side) throw new Error(`resize to ${side}x${side} gave ${out.length} bytes`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Decodes and resizes one case for the model. Errors name the case. */
export async function loadCase(record: CaseRecord, options: Pick<LoaderOptions, 'cnnSize' | 'vitSize' | 'keepOriginal'>): Promise<LoadedCase> {
  try {
    const image = await loadImage(record.image);
    const mask = record.mask ? await loadMask(record.mask) : null;
    const [cnn, vit, small] = await Promise.all([
      resizeGrey(image, options.cnnSize, 'cubic'),
      options.vitSize === null ? Promise.resolve(null) : resizeGrey(image, options.vitSize, 'cubic'),
      mask ? resizeGrey(mask, options.cnnSize, 'nearest') : Promise.resolve(null),
    ]);
    return {
      record,
      cnn,
      vit,
      mask: small,
      original: {
        width: image.width,
        height: image.height,
        spacing: image.spacing ?? null,
        image: options.keepOriginal ? image.data : null,
        mask: options.keepOriginal && mask ? mask.data : null,
      },
    };
  } catch (err) {
    throw new Error(`case ${record.id}: ${(err as Error).message}`);
  }
}

/** The seeded order of case indices for an epoch. */
export function epochOrder(count: number, seed: number, epoch: number, shuffle: boolean): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  if (!shuffle) return order;
  const rand = mulberry32((seed * 1000003 + epoch * 7919) >>> 0);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export class Loader {
  constructor(
    readonly cases: readonly CaseRecord[],
    readonly options: LoaderOptions,
  ) {
    if (options.batchSize < 1) throw new RangeError(`batch size must be at least 1, got ${options.batchSize}`);
  }

  batchesPerEpoch(): number {
    const n = this.cases.length / this.options.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  batchIndices(epoch: number): number[][] {
    const order = epochOrder(this.cases.length, this.options.seed, epoch, this.options.shuffle);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.options.batchSize) {
      const chunk = order.slice(i, i + this.options.batchSize);
      if (chunk.length < this.options.batchSize && this.options.dropLast) break;
      out.push(chunk);
    }
    return out;
  }

  /** Batches of an epoch from `start`, decoded `prefetch` batches ahead. */
  async *epoch(epoch: number, start = 0): AsyncGenerator<LoadedBatch> {
    const batches = this.batchIndices(epoch);
    const ahead = Math.max(1, this.options.prefetch ?? 2);
    const pending: Promise<LoadedBatch>[] = [];
    const shard = this.options.shard;
    const load = (b: number): Promise<LoadedBatch> => {
      let indices = batches[b];
      let offset = 0;
      if (shard && shard.worldSize > 1) {
        const per = Math.ceil(indices.length / shard.worldSize);
        offset = Math.min(indices.length, shard.rank * per);
        indices = indices.slice(offset, offset + per);
      }
      const cache = this.options.cache;
      const one = (record: CaseRecord) => (cache ? cache.get(record, this.options, () => loadCase(record, this.options)) : loadCase(record, this.options));
      const p = Promise.all(indices.map((i) => one(this.cases[i]))).then((cases) => ({ index: b, cases, offset }));
      // Awaited later, in order; until then a failure must not count as unhandled.
      p.catch(() => undefined);
      return p;
    };
    let next = start;
    while (next < batches.length && pending.length < ahead) pending.push(load(next++));
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      if (next < batches.length) pending.push(load(next++));
      // A batch already decoded (kept in a DecodedCache) resolves in a microtask, and the
      // training step after it is synchronous: without a turn of the event loop here a run
      // read from memory would never see a signal (Ctrl-C, SIGTERM) or a timer.
      await new Promise<void>((resolve) => setImmediate(resolve));
      yield batch;
    }
  }
}
