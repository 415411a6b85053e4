// `mkdir -p` that ends. Node's recursive mkdir retries forever where mkdir answers ENOENT
// although the parent exists (/proc, some FUSE mounts): --out /proc/x spun at 100% CPU.
// Here each missing component is made in turn, so every failure is final and named.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates `path` and its missing parents, or throws a sentence naming `what` and the cause. */
export function makeDir(path: string, what = 'output folder'): string {
  const target = resolve(path);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    let isDir: boolean | null = null;
    try {
      isDir = statSync(existing).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw cannot(what, path, existing, err);
    }
    if (isDir === true) break;
    if (isDir === false) throw new Error(`cannot create the ${what} ${path}: ${existing} is a file, not a folder; choose another path`);
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(dir).isDirectory()) continue;
      throw cannot(what, path, dir, err);
    }
  }
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    throw cannot(what, path, target, err);
  }
  return target;
}

function cannot(what: string, path: string, at: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' ? 'disk full' : code;
  return new Error(`cannot create the ${what} ${path} (${why} at ${at}): choose a folder you can write, e.g. under your home or the working directory`);
}
