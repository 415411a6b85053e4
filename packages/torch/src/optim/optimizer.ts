// The optimizer base: parameter groups with their own hyper-parameters, as torch.optim.
import { native } from '../native.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

export interface ParamGroup<H> {
  params: Tensor[];
  /** Group hyper-parameters; any left out take the optimizer's defaults. */
  options: H;
}

export type ParamsInput<H> = Tensor[] | { params: Tensor[]; options?: Partial<H> }[];

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[];
  /** Per-parameter state tensors (moments), owned by the optimizer. */
  protected readonly state = new Map<Tensor, Map<string, Tensor>>();
  protected stepCount = 0;

  constructor(params: ParamsInput<H>, defaults: H) {
    const groups = params.length > 0 && !('params' in params[0]) ? [{ params: params as Tensor[] }] : (params as { params: Tensor[]; options?: Partial<H> }[]);
    this.paramGroups = groups.map((g) => ({ params: g.params, options: { ...defaults, ...('options' in g ? g.options : {}) } }));
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new TypeError('optimizer: a parameter appears in more than one group');
        seen.add(p);
      }
    }
  }

  /** Clears gradients (sets them to None, PyTorch's default since 2.0). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) native.setGrad(p.id, null);
  }

  abstract step(): void;

  protected stateOf(p: Tensor): Map<string, Tensor> {
    let s = this.state.get(p);
    if (s === undefined) {
      s = new Map();
      this.state.set(p, s);
    }
    return s;
  }

  protected setState(p: Tensor, name: string, t: Tensor): Tensor {
    this.stateOf(p).set(name, keep(t));
    return t;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** State tensors by `<group>.<index>.<name>` plus the step count, for checkpoints. */
  stateDict(): { step: number; tensors: Map<string, Tensor>; groups: H[] } {
    const tensors = new Map<string, Tensor>();
    this.paramGroups.forEach((g, gi) =>
      g.params.forEach((p, pi) => {
        for (const [name, t] of this.state.get(p) ?? []) tensors.set(`${gi}.${pi}.${name}`, t);
      }),
    );
    return { step: this.stepCount, tensors, groups: this.paramGroups.map((g) => ({ ...g.options })) };
  }

  /** Restores what stateDict() gave (copied into fresh tensors the optimizer owns). */
  loadStateDict(saved: { step: number; tensors: Map<string, Tensor>; groups?: H[] }): void {
    this.disposeState();
    this.stepCount = saved.step;
    if (saved.groups) {
      if (saved.groups.length !== this.paramGroups.length) {
        throw new RangeError(`optimizer state has ${saved.groups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
      }
      saved.groups.forEach((o, i) => Object.assign(this.paramGroups[i].options, o));
    }
    for (const [key, t] of saved.tensors) {
      const [gi, pi, name] = key.split('.');
      const p = this.paramGroups[Number(gi)]?.params[Number(pi)];
      if (p === undefined) throw new RangeError(`optimizer state key ${key} names no parameter of this optimizer`);
      if (t.shape.join() !== p.shape.join() && name !== 'step') {
        throw new RangeError(`optimizer state ${key} has shape [${t.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
      }
      // Moments live where their parameter lives (a CPU checkpoint resumed on CUDA, or back).
      this.setState(p, name, name === 'step' || t.device === p.device ? t.clone() : t.to(p.device));
    }
  }

  disposeState(): void {
    for (const s of this.state.values()) for (const t of s.values()) t.dispose();
    this.state.clear();
  }

  dispose(): void {
    this.disposeState();
  }
}
