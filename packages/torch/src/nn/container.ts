import type { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { Module, type UnaryModule } from './module.js';

/** Modules applied in order; children are named 0, 1, 2, ... as in PyTorch. */
export class Sequential extends Module implements UnaryModule {
  readonly layers: UnaryModule[];

  constructor(...layers: UnaryModule[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }

  forward(input: Tensor): Tensor {
    return tidy(() => {
      let x = input;
      for (const layer of this.layers) x = layer.forward(x);
      return x;
    });
  }
}

/** A list of sub-modules registered as 0, 1, 2, ... */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly #items: M[] = [];

  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: M): this {
    this.#items.push(this.registerModule(String(this.#items.length), module));
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  at(index: number): M {
    const m = this.#items[index < 0 ? index + this.#items.length : index];
    if (m === undefined) throw new RangeError(`ModuleList index ${index} out of range (length ${this.#items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}
