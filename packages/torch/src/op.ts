// An ATen operator resolved by schema name on first use, then called by index.
import { native } from './native.js';

export class LazyOp {
  private index = -1;

  constructor(
    readonly name: string,
    readonly overload: string,
  ) {}

  get id(): number {
    if (this.index < 0) this.index = native.findOp(this.name, this.overload);
    return this.index;
  }
}
