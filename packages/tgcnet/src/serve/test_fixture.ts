// What the serve tests share: a tiny random-weight run in a temporary folder, loaded once per
// test file, and a test image with structure (so the mask is not trivially uniform).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { defaultBpePath } from '../paths.js';
import { type LoadedRun, loadRun } from '../run/checkpoint.js';
import { buildApp, type ServeApp } from './app.js';
import { writeRandomRun } from './random_run.js';

/** node:test's skip value: a reason when the CLIP vocabulary is missing, else false. */
export const skipWithoutBpe: string | false = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;

export const PROMPT = 'Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung.';

export interface Fixture {
  dir: string;
  run: LoadedRun;
  /** A 96x72 greyscale PNG (not square, so width/height mix-ups show). */
  png: Buffer;
  pngPath: string;
  cleanup(): void;
}

/** A greyscale gradient with two bright ellipses. */
export async function testPng(width = 96, height = 72): Promise<Buffer> {
  const px = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = ((x - width * 0.3) / (width * 0.15)) ** 2 + ((y - height * 0.4) / (height * 0.2)) ** 2;
      const b = ((x - width * 0.7) / (width * 0.12)) ** 2 + ((y - height * 0.65) / (height * 0.18)) ** 2;
      px[y * width + x] = a < 1 || b < 1 ? 230 : Math.round((40 * x) / width + (60 * y) / height);
    }
  }
  return sharp(px, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

export async function makeFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tgcnet-serve-'));
  writeRandomRun(join(dir, 'run'), { preset: 'tiny', seed: 3, metrics: { epoch: 1, val: { diceMicro: 0.5, diceMacro: 0.4 } } });
  const run = loadRun(join(dir, 'run'));
  const png = await testPng();
  const pngPath = join(dir, 'image.png');
  writeFileSync(pngPath, png);
  return {
    dir,
    run,
    png,
    pngPath,
    cleanup() {
      run.model.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The fixture's run served on a loopback port (listen.test, viewer.test); close() undoes both. */
export async function listeningFixture(): Promise<{ fx: Fixture; served: ServeApp; base: string; close(): Promise<void> }> {
  const fx = await makeFixture();
  const served = await buildApp(fx.run);
  const base = await served.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    fx,
    served,
    base,
    async close() {
      await served.app.close();
      fx.cleanup();
    },
  };
}
