// Output files appear whole or not at all: written to a temporary file beside the target,
// then renamed over it (rename is atomic within a file system), so an interrupted run never
// leaves a half-written mask that a later step would read as a real one.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { makeDir } from './make_dir.js';

export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  makeDir(dirname(path));
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'EISDIR' ? 'it is a folder' : (code ?? (err as Error).message);
    throw new Error(`cannot write ${path} (${why}): choose an output you can write`);
  }
}
