// Output files appear whole or not at all: written to a temporary file beside the target,
// then renamed over it (rename is atomic within a file system), so an interrupted run never
// leaves a half-written mask that a later step would read as a real one.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
