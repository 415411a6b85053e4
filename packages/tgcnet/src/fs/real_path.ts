// Where a path really leads, symlinks followed, whether or not its last parts exist yet: the
// guards against writing over a run or an input compare these, so `ln -s run/config.json x.csv`
// cannot get past them.
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';

export function realPathOf(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail);
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(path);
      tail.unshift(basename(head));
      head = parent;
    }
  }
}

/** Whether `inner` is `outer` or lies inside it, both taken as real paths. */
export function isWithin(inner: string, outer: string): boolean {
  const a = realPathOf(inner);
  const b = realPathOf(outer);
  return a === b || a.startsWith(b.endsWith(sep) ? b : `${b}${sep}`);
}
