// nn.Module: named parameters, buffers and sub-modules, whose dotted paths are the
// state-dict keys (`encoder.layers.3.self_attn.q_proj.weight`). A module owns its tensors.
import { noGrad } from '../autograd.js';
import type { DType } from '../dtype.js';
import { keep } from '../scope.js';
import type { Device, Tensor } from '../tensor.js';

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: readonly number[]; got: readonly number[] }[];
}

export class StateDictError extends Error {
  constructor(
    readonly result: LoadResult,
    context: string,
  ) {
    const lines: string[] = [];
    if (result.missing.length) lines.push(`missing keys (${result.missing.length}): ${result.missing.join(', ')}`);
    if (result.unexpected.length) lines.push(`unexpected keys (${result.unexpected.length}): ${result.unexpected.join(', ')}`);
    for (const m of result.mismatched) {
      lines.push(`shape mismatch for ${m.key}: the model has [${m.expected.join(', ')}], the checkpoint [${m.got.join(', ')}]`);
    }
    super(`${context}:\n  ${lines.join('\n  ')}`);
    this.name = 'StateDictError';
  }
}

function checkName(kind: string, name: string): void {
  if (name.length === 0 || name.includes('.')) {
    throw new TypeError(`${kind} name '${name}' must be non-empty and contain no '.' (dots join path segments)`);
  }
}

export class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  readonly #modules = new Map<string, Module>();

  /** Registers a trainable tensor under `name`; the module now owns it. */
  protected registerParameter(name: string, tensor: Tensor): Tensor {
    checkName('parameter', name);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new TypeError(`${this.constructor.name}: '${name}' is already registered`);
    }
    keep(tensor);
    if (!tensor.requiresGrad) tensor.requiresGrad_(true);
    this.#parameters.set(name, tensor);
    return tensor;
  }

  /** Registers non-trainable state (running statistics, position ids). */
  protected registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    checkName('buffer', name);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new TypeError(`${this.constructor.name}: '${name}' is already registered`);
    }
    keep(tensor);
    this.#buffers.set(name, { tensor, persistent });
    return tensor;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    checkName('module', name);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new TypeError(`${this.constructor.name}: '${name}' is already registered`);
    }
    this.#modules.set(name, module);
    return module;
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.#modules.entries();
  }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.#modules) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [name, module] of this.namedModules(prefix)) {
      for (const [p, t] of module.#parameters) yield [name ? `${name}.${p}` : p, t];
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, t]) => t);
  }

  *namedBuffers(prefix = '', persistentOnly = false): IterableIterator<[string, Tensor]> {
    for (const [name, module] of this.namedModules(prefix)) {
      for (const [b, entry] of module.#buffers) {
        if (!persistentOnly || entry.persistent) yield [name ? `${name}.${b}` : b, entry.tensor];
      }
    }
  }

  /** Number of parameter elements; trainableOnly counts those with requiresGrad. */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.numel();
    return n;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (false freezes the module). */
  requiresGrad_(value = true): this {
    for (const p of this.parameters()) p.requiresGrad_(value);
    return this;
  }

  freeze(): this {
    return this.requiresGrad_(false);
  }

  /** Moves or casts every parameter and buffer in place (handles keep their identity). */
  to(target: DType | Device): this {
    noGrad(() => {
      for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
        if (t.dtype === target || t.device === target) continue;
        if (!t.dtype.startsWith('float') && !['cpu', 'cuda'].some((d) => target.startsWith(d))) continue;
        const moved = t.to(target);
        t.setData(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /** Parameters and persistent buffers by key. The tensors are the module's own: do not dispose them. */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
  }

  /**
   * Copies values into this module's tensors. strict (default) throws a StateDictError
   * listing every missing, unexpected and mis-shaped key, before changing anything.
   */
  loadStateDict(state: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const incoming = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const result: LoadResult = { missing: [], unexpected: [], mismatched: [] };
    for (const key of own.keys()) if (!incoming.has(key)) result.missing.push(key);
    for (const key of incoming.keys()) if (!own.has(key)) result.unexpected.push(key);
    for (const [key, target] of own) {
      const src = incoming.get(key);
      if (src !== undefined && src.shape.join() !== target.shape.join()) {
        result.mismatched.push({ key, expected: target.shape, got: src.shape });
      }
    }
    const failed = result.mismatched.length > 0 || (strict && (result.missing.length > 0 || result.unexpected.length > 0));
    if (failed) throw new StateDictError(result, `${this.constructor.name}.loadStateDict`);
    noGrad(() => {
      for (const [key, target] of own) {
        const src = incoming.get(key);
        if (src !== undefined) target.copy_(src);
      }
    });
    return result;
  }

  /** Frees every parameter and buffer of this module and its children. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const p of m.#parameters.values()) p.dispose();
      for (const b of m.#buffers.values()) b.tensor.dispose();
    }
  }
}

/** A module with one tensor in and one out; what Sequential chains. */
export interface UnaryModule extends Module {
  forward(input: Tensor): Tensor;
}
