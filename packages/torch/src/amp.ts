// torch.amp for TypeScript: autocast regions and a gradient scaler for float16 training.
//
// autocast() switches libtorch's Autocast dispatch key on for the calling thread, so the
// dispatcher casts each op's inputs by PyTorch's own lists (matmul, conv and linear in the lower
// precision; softmax, norms, losses and reductions in float32). Parameters stay float32; only
// the activations of covered ops are lowered. As in PyTorch, run the forward pass and the loss
// inside the region and backward() outside it.
import { noGrad } from './autograd.js';
import * as aten from './generated/aten.js';
import { native } from './native.js';
import { tidy } from './scope.js';
import { dtypeCode } from './dtype.js';
import type { Tensor } from './tensor.js';
import type { Optimizer } from './optim/optimizer.js';

export type AutocastDtype = 'bfloat16' | 'float16';

export interface AutocastOptions {
  /** The lower precision (default: bfloat16 on the CPU, float16 on CUDA, as PyTorch). */
  dtype?: AutocastDtype;
  /** false runs fn as it is (handy for a --precision fp32 switch). */
  enabled?: boolean;
}

/** Runs fn with autocast on for deviceType ('cpu' or 'cuda'), restoring the previous state after, even on a throw. */
export function autocast<T>(deviceType: 'cpu' | 'cuda', fn: () => T, options: AutocastOptions = {}): T {
  const dtype = options.dtype ?? (deviceType === 'cpu' ? 'bfloat16' : 'float16');
  if (deviceType === 'cpu' && dtype !== 'bfloat16') {
    throw new RangeError(`autocast on the CPU supports bfloat16 only in this libtorch, not ${dtype}`);
  }
  const [wasEnabled, previousDtype] = native.autocastEnter(deviceType, dtypeCode(dtype), options.enabled ?? true);
  try {
    const out = fn();
    if (out instanceof Promise) throw new TypeError('autocast: fn returned a Promise; autocast regions are synchronous (the state is per thread and would leak across awaits)');
    return out;
  } finally {
    native.autocastExit(deviceType, wasEnabled, previousDtype);
  }
}

/** Whether autocast is on for deviceType on this thread. */
export function isAutocastEnabled(deviceType: 'cpu' | 'cuda'): boolean {
  return native.autocastIsEnabled(deviceType);
}

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  /** Steps without an overflow before the scale grows. */
  growthInterval?: number;
  /** false: scale() is the identity and step() always steps (fp32 and bf16 runs need no scaler). */
  enabled?: boolean;
}

/**
 * torch.amp.GradScaler: float16 gradients underflow, so the loss is multiplied by a large
 * scale before backward; the gradients are divided by it again before the optimizer sees them,
 * and a step whose gradients overflowed (inf or NaN) is skipped and the scale reduced.
 *
 *   const loss = autocast('cuda', () => lossOf(model(x)));
 *   scaler.scale(loss).backward();
 *   scaler.unscale_(optimizer);          // before clipping, so the clip sees true gradients
 *   clipGradNorm_(params, 1);
 *   scaler.step(optimizer);              // skipped when the gradients overflowed
 *   scaler.update();
 */
export class GradScaler {
  #scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  #growthTracker = 0;
  #unscaled = false;
  #foundInf = false;
  #stepped = false;

  constructor(options: GradScalerOptions = {}) {
    this.#scale = options.initScale ?? 65536;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    this.enabled = options.enabled ?? true;
    if (!(this.#scale > 0) || !(this.growthFactor > 1) || !(this.backoffFactor > 0 && this.backoffFactor < 1) || !(this.growthInterval >= 1)) {
      throw new RangeError('GradScaler: need initScale > 0, growthFactor > 1, 0 < backoffFactor < 1 and growthInterval >= 1');
    }
  }

  /** The current scale. */
  get scaleValue(): number {
    return this.#scale;
  }

  /** loss times the scale (a new tensor in the current scope). */
  scale(loss: Tensor): Tensor {
    return this.enabled ? loss.mul(this.#scale) : loss;
  }

  /** Divides the optimizer's gradients by the scale in place and notes whether any is inf or NaN. Once per step. */
  unscale_(optimizer: Optimizer<{ lr: number }>): void {
    if (!this.enabled) return;
    if (this.#unscaled) throw new Error('GradScaler.unscale_: already called since the last update()');
    const grads = optimizer.paramGroups.flatMap((g) => g.params.map((p) => p.grad)).filter((g): g is Tensor => g !== null);
    const inverse = 1 / this.#scale;
    this.#foundInf = noGrad(() =>
      tidy(() => {
        if (grads.length === 0) return false;
        // One flag per gradient, one read back: a single device sync per step.
        const bad = grads.map((g) => {
          aten.mulScalar_(g, inverse);
          return aten.logicalNot(aten.isfinite(g)).any();
        });
        return aten.stack(bad).any().item() !== 0;
      }),
    );
    this.#unscaled = true;
  }

  /** Steps the optimizer unless the gradients overflowed; returns whether it stepped. */
  step(optimizer: Optimizer<{ lr: number }>): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (!this.#unscaled) this.unscale_(optimizer);
    this.#stepped = !this.#foundInf;
    if (this.#stepped) optimizer.step();
    return this.#stepped;
  }

  /** Backs the scale off after an overflow, grows it after growthInterval clean steps. */
  update(): void {
    if (!this.enabled) return;
    if (this.#foundInf) {
      this.#scale *= this.backoffFactor;
      this.#growthTracker = 0;
    } else if (++this.#growthTracker >= this.growthInterval) {
      this.#scale *= this.growthFactor;
      this.#growthTracker = 0;
    }
    this.#unscaled = false;
    this.#foundInf = false;
  }

  /** For checkpoints: resume with the scale the run had reached. */
  stateDict(): { scale: number; growthTracker: number } {
    return { scale: this.#scale, growthTracker: this.#growthTracker };
  }

  loadStateDict(state: { scale: number; growthTracker: number }): void {
    if (!(state.scale > 0) || !Number.isInteger(state.growthTracker) || state.growthTracker < 0) throw new RangeError('GradScaler.loadStateDict: a positive scale and a growth tracker >= 0 expected');
    this.#scale = state.scale;
    this.#growthTracker = state.growthTracker;
  }
}
