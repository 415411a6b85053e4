// One process per run folder: two trainings writing the same last/ and metrics.jsonl would
// interleave checkpoints of different runs. The lock is a file holding the owner's pid,
// created exclusively; a lock whose process is gone (kill -9) is stale and taken over.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/.lock` for this process; returns the function that releases it. */
export function lockFolder(dir: string, what: string): () => void {
  const path = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`${dir} is in use by another ${what} (process ${pid}): wait for it to finish, stop it, or choose another --out`);
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot lock ${dir}: another process keeps taking it`);
}
