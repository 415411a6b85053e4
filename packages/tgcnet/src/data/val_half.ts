// Two fixed halves of a split, by the hash of each case id: select a checkpoint on one, report
// on the other, so the reported figure never saw the selection. The same case lands in the
// same half on every machine and whatever other cases come and go.
import { hashUnit } from '../random.js';

export type ValHalf = 'a' | 'b';

export function valHalfOf(id: string): ValHalf {
  return hashUnit(`val-half:${id}`) < 0.5 ? 'a' : 'b';
}

export function inValHalf<T extends { id: string }>(cases: readonly T[], half: ValHalf | undefined): T[] {
  return half === undefined ? [...cases] : cases.filter((c) => valHalfOf(c.id) === half);
}
